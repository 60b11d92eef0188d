#pragma once
// The web console's routes on the node's HTTP server: the static app embedded in the binary
// (broker/console/, see console_assets.h). The app itself is a client of /api/v1/ and uses
// nothing else; the files need no authentication (they hold no data).
//
//   GET /                  the console's index.html
//   GET /console/PATH      its scripts, style sheet and icon
//
// Every file is sent with its ETag and `Cache-Control: no-cache` (a browser revalidates and gets
// 304 while the file is unchanged, and sees a new broker's console at once), and with headers
// that keep the page from being framed or loading anything from another origin.

namespace httplib {
class Server;
}

namespace tandem::broker {

void add_console_routes(httplib::Server& server);

}  // namespace tandem::broker
