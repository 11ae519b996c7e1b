#!/usr/bin/env sh
# Put matteapp in the desktop's application menu for the current user, with its icon, and make .matte
# projects open in it; --uninstall takes all of it out again.  Nothing outside the user's data folder
# (${XDG_DATA_HOME:-~/.local/share}) is touched, so no root is needed.
#
#   packaging/linux/install-desktop.sh [--exec PATH]   install (PATH: the matteapp program to start)
#   packaging/linux/install-desktop.sh --uninstall      remove what the install put there
#
# Without --exec: the bundle's matteapp when this script lies in a bundle (matteapp/desktop/), else the
# matteapp on PATH (pip or pipx install).  The menu entry names that program by its absolute path.
set -eu

APP_ID=io.github.matteapp.MatteApp
HERE=$(cd "$(dirname "$0")" && pwd)
DATA=${XDG_DATA_HOME:-$HOME/.local/share}
SIZES="16 24 32 48 64 128 256 512"

usage() { sed -n '6,7p' "$0" | sed 's/^# *//' >&2; exit 2; }

refresh() {
    # Each is optional: without them the desktop picks the files up at its next start instead.
    if command -v update-desktop-database >/dev/null 2>&1; then update-desktop-database -q "$DATA/applications" || true; fi
    if command -v update-mime-database >/dev/null 2>&1; then update-mime-database "$DATA/mime" >/dev/null || true; fi
    if command -v gtk-update-icon-cache >/dev/null 2>&1 && [ -f "$DATA/icons/hicolor/index.theme" ]; then
        gtk-update-icon-cache -q -t "$DATA/icons/hicolor" || true
    fi
}

uninstall() {
    rm -f "$DATA/applications/$APP_ID.desktop" "$DATA/metainfo/$APP_ID.metainfo.xml" "$DATA/mime/packages/matteapp.xml"
    for size in $SIZES; do rm -f "$DATA/icons/hicolor/${size}x${size}/apps/$APP_ID.png"; done
    rm -f "$DATA/icons/hicolor/scalable/apps/$APP_ID.svg"
    refresh
    echo "removed matteapp's menu entry, icons, .matte file type and metadata from $DATA"
}

EXEC=
case "${1:-}" in
    --uninstall) [ $# -eq 1 ] || usage; uninstall; exit 0 ;;
    --exec) [ $# -eq 2 ] || usage; EXEC=$2 ;;
    "") ;;
    *) usage ;;
esac

if [ -z "$EXEC" ]; then
    if [ -x "$HERE/../matteapp" ] && [ ! -d "$HERE/../matteapp" ]; then
        EXEC="$HERE/../matteapp"
    elif command -v matteapp >/dev/null 2>&1; then
        EXEC=$(command -v matteapp)
    else
        echo "no matteapp on PATH: install it first (pipx install . / pip install .), or pass --exec PATH" >&2
        exit 1
    fi
fi
[ -x "$EXEC" ] || { echo "$EXEC is not an executable program" >&2; exit 1; }
EXEC=$(cd "$(dirname "$EXEC")" && pwd)/$(basename "$EXEC")
case "$EXEC" in
    *[!A-Za-z0-9/._+-]*) echo "the path $EXEC has characters a desktop entry's Exec= would need quoted: pass a simpler --exec" >&2; exit 1 ;;
esac

mkdir -p "$DATA/applications" "$DATA/metainfo" "$DATA/mime/packages"
sed -e "s|^Exec=matteapp |Exec=$EXEC |" -e "s|^TryExec=matteapp\$|TryExec=$EXEC|" "$HERE/$APP_ID.desktop" > "$DATA/applications/$APP_ID.desktop"
cp "$HERE/$APP_ID.metainfo.xml" "$DATA/metainfo/"
cp "$HERE/matteapp.xml" "$DATA/mime/packages/"
for size in $SIZES; do
    mkdir -p "$DATA/icons/hicolor/${size}x${size}/apps"
    cp "$HERE/icons/hicolor/${size}x${size}/apps/$APP_ID.png" "$DATA/icons/hicolor/${size}x${size}/apps/"
done
mkdir -p "$DATA/icons/hicolor/scalable/apps"
cp "$HERE/icons/hicolor/scalable/apps/$APP_ID.svg" "$DATA/icons/hicolor/scalable/apps/"
refresh
echo "installed matteapp's menu entry (starting $EXEC), icons, .matte file type and metadata in $DATA"
