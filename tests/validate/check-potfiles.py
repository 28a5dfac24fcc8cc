#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fails when a file with translatable strings is missing from po/POTFILES.in.

  check-potfiles.py SOURCE_ROOT

Scans src/ and data/ for C sources with _( N_( C_( NC_( ngettext(, for
GtkBuilder files with translatable="yes", and for the desktop, metainfo and
GSettings files (translatable by nature).  Every file found must be listed in
po/POTFILES.in, and every file listed there must exist.  Prints TAP; before
looking at the real tree it runs itself on a small tree with a known omission
and requires that omission to be reported.
"""

import os
import re
import sys
import tempfile

C_MARKERS = re.compile(r'(?<![\w])(?:N|C|NC)?_\s*\(|(?<![\w])n?gettext\s*\(')
UI_MARKER = re.compile(r'translatable\s*=\s*"(?:yes|true)"')
ALWAYS = ('.desktop.in', '.metainfo.xml.in', '.appdata.xml.in', '.gschema.xml')
SCANNED_DIRS = ('src', 'data')
TEXT_SUFFIXES = ('.c', '.h', '.ui', '.xml', '.in', '.js', '.py')


def needs_translation(path):
    name = os.path.basename(path)
    if name.endswith(ALWAYS):
        return True
    if not name.endswith(TEXT_SUFFIXES):
        return False
    try:
        with open(path, encoding='utf-8') as f:
            text = f.read()
    except (UnicodeDecodeError, OSError):
        return False
    if name.endswith(('.c', '.h', '.js', '.py')):
        # Drop comments and skip the gettext macros' own definitions.
        text = re.sub(r'/\*.*?\*/', '', text, flags=re.S)
        text = re.sub(r'#\s*define\s+\w*_\(.*', '', text)
        return bool(C_MARKERS.search(text))
    return bool(UI_MARKER.search(text))


def translatable_files(root):
    found = set()
    for top in SCANNED_DIRS:
        for dirpath, dirnames, filenames in os.walk(os.path.join(root, top)):
            dirnames[:] = [d for d in dirnames if not d.startswith('.')]
            for name in filenames:
                path = os.path.join(dirpath, name)
                if needs_translation(path):
                    found.add(os.path.relpath(path, root))
    return found


def listed_files(root):
    listed = set()
    with open(os.path.join(root, 'po', 'POTFILES.in'), encoding='utf-8') as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith('#'):
                listed.add(line)
    return listed


def problems(root):
    found = translatable_files(root)
    listed = listed_files(root)
    missing = sorted(found - listed)
    absent = sorted(p for p in listed if not os.path.isfile(os.path.join(root, p)))
    return missing, absent


def self_test():
    with tempfile.TemporaryDirectory() as tmp:
        files = {
            'src/app/listed.c': 'label = _("Listed");\n',
            'src/app/forgotten.c': 'gtk_label_set_text (l, _ ("Forgotten"));\n',
            'src/app/forgotten.ui': '<property name="label" translatable="yes">X</property>\n',
            'src/app/plain.c': 'int x = foo_(1); /* _("in a comment") */\n',
            'data/org.example.App.desktop.in': '[Desktop Entry]\nName=X\n',
            'po/POTFILES.in': '# comment\nsrc/app/listed.c\nsrc/app/gone.c\n',
        }
        for rel, text in files.items():
            path = os.path.join(tmp, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, 'w', encoding='utf-8') as f:
                f.write(text)
        missing, absent = problems(tmp)
        expect_missing = ['data/org.example.App.desktop.in', 'src/app/forgotten.c',
                          'src/app/forgotten.ui']
        return missing == expect_missing and absent == ['src/app/gone.c'], (missing, absent)


def main(argv):
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    root = argv[1]
    failed = 0

    ok, detail = self_test()
    print(('ok' if ok else 'not ok') + ' 1 - a known omission in a sample tree is reported')
    if not ok:
        failed += 1
        print(f'# found {detail}')

    missing, absent = problems(root)
    print(('ok' if not missing else 'not ok') +
          ' 2 - every file under src/ and data/ with translatable strings is in POTFILES.in')
    for p in missing:
        print(f'# missing from po/POTFILES.in (add it there): {p}')
    print(('ok' if not absent else 'not ok') + ' 3 - every file in POTFILES.in exists')
    for p in absent:
        print(f'# listed in po/POTFILES.in but not found: {p}')
    failed += bool(missing) + bool(absent)
    print('1..3')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
