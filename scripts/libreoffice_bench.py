#!/usr/bin/env python3
"""The peer of BM_RenderPdf: LibreOffice converting the same seed DOCX
(render_bench writes it) to PDF, and the speedup of the suite's own PDF.

A cold soffice start costs seconds, which no server pays per document, so
the figure is the warm cost: one process converting 1 copy and one process
converting 1 + N copies; the difference over N is the time per document.
Prints {"render.pdf.libreoffice_ms_per_doc": X} for scripts/bench.sh.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time


def convert(soffice, profile, files, out_dir):
    started = time.perf_counter()
    subprocess.run([soffice, f"-env:UserInstallation=file://{profile}", "--headless",
                    "--convert-to", "pdf", "--outdir", out_dir, *files],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    elapsed = time.perf_counter() - started
    for f in files:
        pdf = os.path.join(out_dir, os.path.splitext(os.path.basename(f))[0] + ".pdf")
        if not os.path.getsize(pdf):
            raise SystemExit(f"LibreOffice wrote an empty {pdf}")
    return elapsed


def main():
    folder, copies = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 20
    soffice = shutil.which("soffice")
    if not soffice:
        sys.stderr.write("soffice not installed; no LibreOffice figure\n")
        print("{}")
        return
    source = os.path.join(folder, "render_seed.docx")
    with tempfile.TemporaryDirectory() as work:
        profile = os.path.join(work, "profile")
        files = []
        for i in range(copies + 1):
            files.append(os.path.join(work, f"seed{i}.docx"))
            shutil.copyfile(source, files[-1])
        out = os.path.join(work, "out")
        os.mkdir(out)
        convert(soffice, profile, files[:1], out)  # creates the profile
        # Alternate the two runs so drift on a busy machine hits both.
        single, many = [], []
        for _ in range(3):
            single.append(convert(soffice, profile, files[:1], out))
            many.append(convert(soffice, profile, files, out))
        per_doc = (min(many) - min(single)) / copies
    print(json.dumps({"render.pdf.libreoffice_ms_per_doc": round(per_doc * 1000, 1)}))


if __name__ == "__main__":
    main()
