// The "send a test message" form (POST /api/v1/send): destination, body, headers, persistence.
// The destination list offers the known destinations; any /queue/ or /topic/ name is accepted.

import * as api from "./api.js";
import {adminButton, fill, h} from "./dom.js";
import * as fmt from "./format.js";
import {runAction} from "./ui.js";

export function create(ctx) {
  const known = h("datalist", {id: "known-destinations"});
  const destination = h("input", {name: "destination", id: "send-destination", list: "known-destinations",
    required: true, placeholder: "/queue/test", pattern: "/(queue|topic)/.+", autocomplete: "off",
    value: ctx.route.query.get("to") || ""});
  const body = h("textarea", {name: "body", id: "send-body", rows: 6, placeholder: "Message body (text)"});
  const persistent = h("input", {type: "checkbox", id: "send-persistent", checked: true});
  const headerRows = h("div", {class: "header-rows"});
  const last = h("p", {class: "muted", id: "send-result"});

  function addHeader(k = "", v = "") {
    const row = h("div", {class: "header-row"},
      h("input", {placeholder: "name", "aria-label": "Header name", value: k}),
      h("input", {placeholder: "value", "aria-label": "Header value", value: v}),
      h("button", {type: "button", class: "button small", title: "Remove this header",
        onclick: () => row.remove()}, "Remove"));
    headerRows.append(row);
  }

  function headers() {
    const out = {};
    for (const row of headerRows.children) {
      const [k, v] = row.querySelectorAll("input");
      if (k.value.trim()) out[k.value.trim()] = v.value;
    }
    return out;
  }

  const submit = adminButton("Send", ctx.session, {type: "submit", class: "button primary", id: "send-submit"});

  const form = h("form", {class: "send-form", id: "send-form"},
    h("label", {}, "Destination", destination,
      h("span", {class: "hint"}, "/queue/NAME or /topic/NAME")),
    h("label", {}, "Body", body),
    h("fieldset", {}, h("legend", {}, "Headers"), headerRows,
      h("button", {type: "button", class: "button small", onclick: () => addHeader()}, "+ Add a header")),
    h("label", {class: "check"}, persistent, "Persistent (journaled; the API answers once it is durable)"),
    h("div", {class: "form-buttons"}, submit),
    last);

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const dest = destination.value.trim();
    const button = form.querySelector("button[type=submit]");
    const r = await runAction(`Sending to ${dest}`, button, () => api.post("/api/v1/send", {
      destination: dest, body: body.value, headers: headers(), persistent: persistent.checked,
    }), (r) => `Sent ${r.message_id} to ${dest}`);
    if (r) fill(last, `Last sent: ${r.message_id} to ${dest} at ${fmt.clock(Date.now())}.`);
  });

  const el = h("div", {class: "panel narrow"},
    h("div", {class: "panel-head"}, h("h2", {}, "Send a message")),
    h("p", {class: "muted"}, "A test message, sent by the broker itself as if a client had sent it."),
    form, known);

  async function refresh() {
    // Only to offer known names; the form works without them.
    const r = await api.get("/api/v1/destinations");
    const names = (r.destinations || []).map((d) => d.name).sort();
    if (known.dataset.names !== names.join("\n")) {
      known.dataset.names = names.join("\n");
      fill(known, names.map((n) => h("option", {value: n})));
    }
  }

  return {el, refresh};
}
