#!/usr/bin/env bash
# Installs the benchmark anchors where missing: ImageMagick (convert) and libvips (vips).
set -euo pipefail
need=()
[ -x /usr/bin/convert-im6.q16 ] || [ -x /usr/bin/magick ] || need+=(imagemagick)
command -v vips >/dev/null 2>&1 || need+=(libvips-tools)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
echo "anchors: $(/usr/bin/convert-im6.q16 -version 2>/dev/null | head -1 || true); $(vips --version)"
