"""The comparison's chart: an SVG drawn by gnuplot (Debian's gnuplot-nox) from the summary rows.

Three panels, each bar the median with a min-max error bar:
  1. throughput of (a)-(e), ActiveMQ beside Tandem, log scale (higher is better);
  2. kill -9 of the active -> first receipt from the standby: ActiveMQ at its defaults, ActiveMQ
     with the lock poll tuned down, Tandem (lower is better, log scale);
  3. memory per idle connection, (f) (lower is better).
The gnuplot script is written next to the SVG, so the chart can be redrawn or restyled.
"""

import os
import shutil
import subprocess

AMQ_COLOR = "#c0504d"
TANDEM_COLOR = "#4f81bd"
SHORT = {"a": "(a) 1 producer", "b": "(b) 8 producers", "c": "(c) pipelined", "c_last": "(c') last receipt",
         "d": "(d) drain", "e": "(e) fan-out"}


def _quote(s):
    return '"' + s.replace('"', "'") + '"'


def _triple(s):
    return (s["median"], s["min"], s["max"]) if s else ("NaN", "NaN", "NaN")


def _bars(points):
    """A boxes panel: `points` are (spread or None, name, colour index); rows without data drop."""
    return [f"{i} {s['median']} {s['min']} {s['max']} {color} {_quote(name)}"
            for i, (s, name, color) in enumerate(p for p in points if p[0])]


def _empty(title):
    """A panel saying there is nothing to show (e.g. FAILOVER=0)."""
    return "\n".join(["unset logscale y", "set yrange [0:4]", "set xrange [0:4]", "unset xtics", "unset ytics",
                      f"set title {_quote(title)}", 'set label 1 "not measured" at graph 0.5,0.5 center',
                      'plot 2 notitle lc rgb "white"', "unset label 1", "set xtics", "set ytics"])


def _boxes_plot(block, rows, title, log):
    """gnuplot commands for one boxes panel over datablock `block` (`rows` as _bars made them)."""
    n = len(rows)
    if not n:
        return _empty(title)
    top = max(float(r.split()[3]) for r in rows)  # room above the highest error bar for its label
    scale = (f"set logscale y\nset yrange [10:{top * 3}]\nset format y '%.0f'" if log else
             f"unset logscale y\nset yrange [0:{top * 1.25}]\nset format y '%g'")
    return "\n".join([scale, "set style data boxes", "set boxwidth 0.6", "set xtics norotate", "unset key",
                      f"set xrange [-0.6:{n - 0.4}]", f"set title {_quote(title)}",
                      f"plot {block} using 1:2:5:xtic(6) with boxes lc variable, "
                      f"'' using 1:2:3:4 with yerrorbars lc rgb \"black\" pt 7 ps 0.3, "
                      f"'' using 1:4:(sprintf(\"%.{0 if log else 1}f\", $2)) with labels offset 0,0.8"])


def script(rows, svg_path, title):
    by = {r["key"]: r for r in rows}
    tput = []
    for key in SHORT:
        if key in by:
            a, t = _triple(by[key]["activemq"]), _triple(by[key]["tandem"])
            tput.append(f"{_quote(SHORT[key])} {a[0]} {a[1]} {a[2]} {t[0]} {t[1]} {t[2]}")
    series = []
    if any(by[k]["activemq"] for k in SHORT if k in by):
        series.append('$tput using 2:3:4:xtic(1) title "ActiveMQ" lt 1')
    if any(by[k]["tandem"] for k in SHORT if k in by):
        series.append(("''" if series else "$tput") + ' using 5:6:7' + ("" if series else ":xtic(1)")
                      + ' title "Tandem" lt 2')
    tandem_fo = (by.get("amq_tuned") or by.get("amq_default") or by.get("tandem_failover") or {}).get("tandem")
    fail = _bars([((by.get("amq_default") or {}).get("activemq"), "ActiveMQ\\n10 s poll", 1),
                  ((by.get("amq_tuned") or {}).get("activemq"),
                   f"ActiveMQ\\n{(by.get('amq_tuned') or {}).get('lock_ms')} ms poll", 1),
                  (tandem_fo, "Tandem", 2)])
    f = by.get("f") or {}
    conn = _bars([(f.get("activemq"), "ActiveMQ", 1), (f.get("tandem"), "Tandem", 2)])
    nl = "\n"
    fail_plot = _boxes_plot("$fail", fail, "kill -9 of the active -> first receipt\\nfrom the standby, ms "
                            "(lower is better)", True)
    conn_plot = _boxes_plot("$conn", conn, "memory per idle connection, KiB\\n(peak RSS growth / "
                            "connections; lower is better)", False)
    tput_plot = ("plot " + ", ".join(series)) if series else _empty("throughput")
    return f"""# Drawn by tools/bench/compare-activemq.sh; redraw in this directory: gnuplot {os.path.basename(svg_path)[:-4]}.gp
set terminal svg size 1250,470 dynamic enhanced font "Helvetica,12" background rgb "white"
set output {_quote(os.path.basename(svg_path))}
$tput << EOD
{nl.join(tput)}
EOD
$fail << EOD
{nl.join(fail)}
EOD
$conn << EOD
{nl.join(conn)}
EOD
set linetype 1 lc rgb "{AMQ_COLOR}"
set linetype 2 lc rgb "{TANDEM_COLOR}"
set multiplot layout 1,3 title {_quote(title)}
set style fill solid 0.85 border -1
set bmargin 5
set grid ytics
set key top left
set logscale y
set yrange [10:*]
set format y "%.0s%c"
set title "throughput, msgs/s (deliveries/s for fan-out)\\nhigher is better"
set style data histogram
set style histogram errorbars gap 1 lw 1
set xtics rotate by -25 scale 0
{tput_plot}
unset style data
{fail_plot}
{conn_plot}
unset multiplot
"""


def draw(rows, out_dir, base, title, run_gnuplot=True):
    """Writes BASE.gp and, when asked and gnuplot is installed, BASE.svg. Returns the SVG path or
    None."""
    svg = os.path.join(out_dir, base + ".svg")
    gp = os.path.join(out_dir, base + ".gp")
    with open(gp, "w") as f:
        f.write(script(rows, svg, title))
    if not run_gnuplot or not shutil.which("gnuplot"):
        return None
    proc = subprocess.run(["gnuplot", os.path.basename(gp)], capture_output=True, text=True, timeout=60,
                          cwd=out_dir)
    if proc.returncode != 0:
        raise RuntimeError(f"gnuplot {gp} failed: {proc.stderr.strip()[-1000:]}")
    return svg
