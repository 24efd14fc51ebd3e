#!/usr/bin/env bash
# Install dciodvfy (Debian/Ubuntu package dicom3tools) and pdftoppm (poppler-utils). With CI set,
# tests/io/test_sr.py, tests/io/test_parametric_map.py and tests/report/test_export.py require dciodvfy (IOD
# validation of written SR/SEG/Parametric Map objects) and tests/report require pdftoppm (PDF pages → PNG).
set -euo pipefail
need=()
command -v dciodvfy >/dev/null 2>&1 || need+=(dicom3tools)
command -v pdftoppm >/dev/null 2>&1 || need+=(poppler-utils)
if [ ${#need[@]} -eq 0 ]; then
    exit 0
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}"
command -v dciodvfy
command -v pdftoppm
