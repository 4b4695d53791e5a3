#!/usr/bin/env bash
# The Debian packages the tests read or compare against, installed when a file they provide is
# missing (checked by file, not by dpkg's records, so hidden or deleted files are put back):
# chromium (the explain page's browser tests), ImageMagick (border modes, alpha), Fashion-MNIST,
# the fonts of the photographed-digit tests (the same 16 faces on every machine), jq (pipelines),
# gettext (msgfmt --check --statistics on the Spanish catalog).
# Without root or sudo it says what is missing and leaves it to the tests (they skip, or fail
# under CONVCLI_CI).
set -euo pipefail
declare -A PACKAGE_OF=(
    [/usr/bin/chromium]=chromium
    [/usr/bin/convert-im6.q16]=imagemagick
    [/usr/bin/jq]=jq
    [/usr/bin/msgfmt]=gettext
    [/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz]=dataset-fashion-mnist
    [/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf]=fonts-dejavu-core
    [/usr/share/fonts/truetype/dejavu/DejaVuSansCondensed-Oblique.ttf]=fonts-dejavu-extra
    [/usr/share/fonts/truetype/liberation/LiberationSansNarrow-Bold.ttf]=fonts-liberation
    [/usr/share/fonts/opentype/urw-base35/C059-Roman.otf]=fonts-urw-base35
    [/usr/share/fonts/truetype/noto/NotoSansMono-Regular.ttf]=fonts-noto-mono
)
missing=()
for file in "${!PACKAGE_OF[@]}"; do
    [ -e "$file" ] || missing+=("${PACKAGE_OF[$file]}")
done
[ ${#missing[@]} -eq 0 ] && exit 0
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        SUDO="sudo"
    else
        echo "test-deps: missing Debian packages (install them as root): ${missing[*]}" >&2
        exit 0
    fi
fi
echo "test-deps: installing (apt-get): ${missing[*]}"
$SUDO apt-get update -qq >/dev/null
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --reinstall --no-install-recommends "${missing[@]}" >/dev/null
