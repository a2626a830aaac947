#!/usr/bin/python3
"""A tiny TLS-terminating forwarder for tests/servers.sh.

    tls-forward.py LISTEN_PORT TARGET_PORT CERT KEY

Accepts TLS on 127.0.0.1:LISTEN_PORT presenting CERT, and relays the
decrypted bytes to 127.0.0.1:TARGET_PORT (a plaintext IMAP port).

Why it exists: servers.sh needs an IMAPS endpoint that presents a certificate
for the wrong host name, so tests can check that clients refuse it. Dovecot 2.3
picks its certificate by local IP or by SNI name, never by port, and a client
that connects to 127.0.0.1 sends no SNI; so the wrong certificate is presented
here instead, in front of the real Dovecot.

Runs until SIGTERM/SIGINT. One thread per connection; the connection ends
when either side closes. Nothing here is meant for anything but tests.
"""
import signal
import socket
import ssl
import sys
import threading


def pump(src, dst):
    """Copy src to dst until src ends or either fails, then close both."""
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def serve(conn, ctx, target_port):
    try:
        conn.settimeout(10)  # the handshake must not hang a thread forever
        tls = ctx.wrap_socket(conn, server_side=True)
        tls.settimeout(None)
    except (OSError, ssl.SSLError):
        # The usual case in tests: the client refused our certificate.
        conn.close()
        return
    try:
        upstream = socket.create_connection(("127.0.0.1", target_port), 10)
        upstream.settimeout(None)
    except OSError:
        tls.close()
        return
    t = threading.Thread(target=pump, args=(upstream, tls), daemon=True)
    t.start()
    pump(tls, upstream)
    t.join()
    tls.close()
    upstream.close()


def main():
    if len(sys.argv) != 5:
        sys.exit("usage: tls-forward.py LISTEN_PORT TARGET_PORT CERT KEY")
    listen_port, target_port = int(sys.argv[1]), int(sys.argv[2])
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(sys.argv[3], sys.argv[4])

    # SIGTERM (servers.sh stop) ends the process through SystemExit.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", listen_port))  # fails fast if the port is taken
    srv.listen(16)
    try:
        while True:
            conn, _ = srv.accept()
            threading.Thread(target=serve, args=(conn, ctx, target_port),
                             daemon=True).start()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        srv.close()


if __name__ == "__main__":
    main()
