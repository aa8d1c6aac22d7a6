"""What a client really receives over HTTP: http.client and requests never read the body of a HEAD
answer, so a server that wrongly sends one would go unnoticed (and break the next answer)."""
from __future__ import annotations

import socket


def exchange(port: int, method: str, target: str, headers: dict[str, str] | None = None,
             body: bytes = b'') -> tuple[int, dict[str, str], bytes]:
    """One request on its own connection, read until the server closes it: (status, headers with
    lower-cased names, every byte after the headers)."""
    lines = [f'{method} {target} HTTP/1.1', f'Host: 127.0.0.1:{port}', 'Connection: close']
    lines += [f'{name}: {value}' for name, value in (headers or {}).items()]
    if body:
        lines.append(f'Content-Length: {len(body)}')
    with socket.create_connection(('127.0.0.1', port), timeout=30) as sock:
        sock.sendall('\r\n'.join(lines).encode('latin-1') + b'\r\n\r\n' + body)
        data = b''
        while chunk := sock.recv(65536):
            data += chunk
    head, _, rest = data.partition(b'\r\n\r\n')
    status_line, *header_lines = head.decode('latin-1').split('\r\n')
    answer_headers = {}
    for line in header_lines:
        name, _, value = line.partition(':')
        answer_headers[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), answer_headers, rest
