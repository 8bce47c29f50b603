"""What ``nc -l 8888`` shows in the OpenFaaS docs: print each request a callback makes, then 200.

python receiver.py 8888
"""

import sys
from http.server import BaseHTTPRequestHandler, HTTPServer


class Show(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        print(f"{self.command} {self.path} {self.request_version}")
        for name, value in self.headers.items():
            print(f"{name}: {value}")
        print()
        print(body.decode(errors="replace"), flush=True)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    HTTPServer(("127.0.0.1", int(sys.argv[1]) if len(sys.argv) > 1 else 8888), Show).serve_forever()
