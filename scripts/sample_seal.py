#!/usr/bin/env python3
"""Writes a sample seal image for the demo: a red ring and a five-pointed
star on a transparent background, as an org's scanned 印章 would be
uploaded (PNG, RGBA). Not any real organ's seal.

  scripts/sample_seal.py OUT.png [PIXELS]
"""
import math
import struct
import sys
import zlib


def inside_star(x, y, cx, cy, outer, inner):
    points = []
    for i in range(10):
        r = outer if i % 2 == 0 else inner
        a = -math.pi / 2 + i * math.pi / 5
        points.append((cx + r * math.cos(a), cy + r * math.sin(a)))
    # Even-odd rule over the star's outline.
    hit = False
    for i in range(10):
        (x0, y0), (x1, y1) = points[i], points[(i + 1) % 10]
        if (y0 > y) != (y1 > y) and x < x0 + (y - y0) * (x1 - x0) / (y1 - y0):
            hit = not hit
    return hit


def main():
    out = sys.argv[1]
    size = int(sys.argv[2]) if len(sys.argv) > 2 else 360
    c = size / 2
    ring_outer, ring_inner = c * 0.97, c * 0.89
    red = b"\xd8\x10\x10\xe6"
    clear = b"\x00\x00\x00\x00"
    rows = []
    for y in range(size):
        row = bytearray(b"\x00")  # filter: none
        for x in range(size):
            d = math.hypot(x + 0.5 - c, y + 0.5 - c)
            on = ring_inner <= d <= ring_outer or inside_star(x + 0.5, y + 0.5, c, c,
                                                              c * 0.36, c * 0.14)
            row += red if on else clear
        rows.append(bytes(row))

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data +
                struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    png = (b"\x89PNG\r\n\x1a\n" +
           chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)) +
           chunk(b"IDAT", zlib.compress(b"".join(rows), 9)) + chunk(b"IEND", b""))
    with open(out, "wb") as f:
        f.write(png)


if __name__ == "__main__":
    main()
