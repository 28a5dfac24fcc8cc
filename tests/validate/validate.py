#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Validators for the data files, translations, help and Flatpak manifest.

Each subcommand prints TAP.  Every check first feeds its validator a known-bad
sample and requires it to be rejected, so a validator that silently accepts
everything (a missing tool, a wrong flag) turns the test red instead of green.

  validate.py desktop  MERGED.desktop SERVICE_FILE
  validate.py metainfo MERGED.metainfo.xml SOURCE_ROOT
  validate.py schema   SCHEMA_DIR
  validate.py help     HELP_DIR HELP_MESON_BUILD
  validate.py pot      SOURCE_ROOT
  validate.py po       PO_FILE...
  validate.py manifest MANIFEST
  validate.py icons    SVG_FILE...
"""

import configparser
import json
import os
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

APP_ID = 'io.github.cpns.Gateway'
HOMEPAGE = 'https://github.com/cpns/pn-gateway'
SCREENSHOT_PREFIX = HOMEPAGE + '/raw/main/'


class Tap:
    def __init__(self):
        self.n = 0
        self.failed = 0

    def ok(self, cond, what, detail=''):
        self.n += 1
        if cond:
            print(f'ok {self.n} - {what}')
        else:
            self.failed += 1
            print(f'not ok {self.n} - {what}')
            for line in str(detail).strip().splitlines():
                print(f'# {line}')
        sys.stdout.flush()
        return cond

    def finish(self):
        print(f'1..{self.n}')
        return 1 if self.failed else 0


def run(argv, env=None, cwd=None):
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, env=full_env, cwd=cwd)
    return p.returncode, p.stdout


def write(directory, name, text):
    path = os.path.join(directory, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w', encoding='utf-8') as f:
        f.write(text)
    return path


# ---------------------------------------------------------------- desktop
def check_desktop(t, merged, service):
    with tempfile.TemporaryDirectory() as tmp:
        bad = write(tmp, APP_ID + '.desktop',
                    '[Desktop Entry]\nName=X\nExec=x\nType=Bogus\nCategories=NotACategory\n')
        rc, out = run(['desktop-file-validate', bad])
        t.ok(rc != 0, 'desktop-file-validate rejects a known-bad entry', out)

    rc, out = run(['desktop-file-validate', merged])
    t.ok(rc == 0 and 'error' not in out, 'merged desktop file is valid', out)

    cp = configparser.RawConfigParser(strict=False)
    cp.optionxform = str
    cp.read(merged, encoding='utf-8')
    entry = cp['Desktop Entry'] if cp.has_section('Desktop Entry') else {}
    t.ok(entry.get('Exec', '').split()[0:1] == ['cpns-gateway'], 'Exec runs cpns-gateway',
         entry.get('Exec'))
    t.ok(entry.get('Icon') == APP_ID, 'Icon is the application ID', entry.get('Icon'))
    t.ok(entry.get('DBusActivatable') == 'true', 'DBusActivatable=true')
    t.ok('x-scheme-handler/cpns' in entry.get('MimeType', '').split(';'),
         'opens cpns:// invitations', entry.get('MimeType'))
    for lang in ('de', 'fr'):
        t.ok(f'Comment[{lang}]' in entry and f'Keywords[{lang}]' in entry,
             f'translations merged for {lang}')

    sp = configparser.RawConfigParser()
    sp.optionxform = str
    sp.read(service, encoding='utf-8')
    svc = sp['D-BUS Service'] if sp.has_section('D-BUS Service') else {}
    t.ok(svc.get('Name') == APP_ID, 'D-Bus service name matches the desktop file id',
         svc.get('Name'))
    exe = svc.get('Exec', '')
    t.ok(exe.endswith('/cpns-gateway --gapplication-service') and exe.startswith('/'),
         'D-Bus service starts cpns-gateway as a GApplication service', exe)


# ---------------------------------------------------------------- metainfo
def check_metainfo(t, merged, source_root):
    with tempfile.TemporaryDirectory() as tmp:
        bad = write(tmp, APP_ID + '.metainfo.xml',
                    '<?xml version="1.0"?>\n<component type="desktop-application">\n'
                    f'  <id>{APP_ID}</id>\n  <name>X</name>\n</component>\n')
        rc, out = run(['appstreamcli', 'validate', '--no-net', bad])
        t.ok(rc != 0, 'appstreamcli rejects a known-bad metainfo', out)

    rc, out = run(['appstreamcli', 'validate', '--no-net', '--explain', merged])
    t.ok(rc == 0, 'merged metainfo is valid (appstreamcli validate --no-net)', out)

    root = ET.parse(merged).getroot()
    t.ok(root.findtext('id') == APP_ID, 'component id is the application ID')
    launch = root.find('launchable')
    t.ok(launch is not None and launch.text == APP_ID + '.desktop',
         'launchable names the desktop file')
    t.ok(root.find('content_rating') is not None, 'has an OARS content rating')
    t.ok(root.find('releases/release') is not None, 'has a release')
    t.ok(root.findtext('developer_name'), 'has <developer_name>')
    urls = {u.get('type'): u.text for u in root.findall('url')}
    t.ok(urls.get('homepage') == HOMEPAGE, 'homepage URL', urls)
    lang_attr = '{http://www.w3.org/XML/1998/namespace}lang'
    langs = {e.get(lang_attr) for e in root.iter() if e.get(lang_attr)}
    t.ok({'de', 'fr'} <= langs, 'translations merged for de and fr', sorted(langs))

    shots = root.findall('screenshots/screenshot')
    for shot in shots:
        url = shot.findtext('image') or ''
        rel = url[len(SCREENSHOT_PREFIX):] if url.startswith(SCREENSHOT_PREFIX) else None
        t.ok(rel is not None and rel.startswith('data/screenshots/')
             and os.path.isfile(os.path.join(source_root, rel)),
             f'screenshot {url} is a file of this repository', url)
        t.ok(bool(shot.findtext('caption')), f'screenshot {url} has a caption')


# ---------------------------------------------------------------- schema
BAD_SCHEMA = '''<?xml version="1.0" encoding="UTF-8"?>
<schemalist>
  <schema id="org.example.Bad" path="/org/example/Bad/">
    <key name="n" type="u"><range min="10" max="20"/><default>99</default></key>
  </schema>
</schemalist>
'''


def check_schema(t, schema_dir):
    with tempfile.TemporaryDirectory() as tmp:
        write(tmp, 'org.example.Bad.gschema.xml', BAD_SCHEMA)
        rc, out = run(['glib-compile-schemas', '--strict', '--dry-run', tmp])
        t.ok(rc != 0, 'glib-compile-schemas --strict rejects a known-bad schema', out)
    rc, out = run(['glib-compile-schemas', '--strict', '--dry-run', schema_dir])
    t.ok(rc == 0, 'schemas compile with --strict', out)
    root = ET.parse(os.path.join(schema_dir, APP_ID + '.gschema.xml')).getroot()
    schema = root.find(f"schema[@id='{APP_ID}']")
    t.ok(schema is not None, 'schema id is the application ID')
    if schema is not None:
        missing = [k.get('name') for k in schema.findall('key')
                   if not k.findtext('summary') or not k.findtext('description')]
        t.ok(not missing, 'every key has a summary and a description', missing)


# ---------------------------------------------------------------- help
BAD_PAGE = '''<page xmlns="http://projectmallard.org/1.0/" type="topic" id="bad">
  <title>Bad</title>
  <p>A paragraph <notatag>inside</notatag>.</p>
  <section><p>A section without a title.</p></section>
</page>
'''


def check_help(t, help_dir, help_meson):
    with tempfile.TemporaryDirectory() as tmp:
        write(tmp, 'bad.page', BAD_PAGE)
        rc, out = run(['yelp-check', 'validate', tmp])
        t.ok(rc != 0 or out.strip() != '', 'yelp-check rejects a known-bad page', out)

    rc, out = run(['yelp-check', 'validate', help_dir])
    t.ok(rc == 0 and out.strip() == '', 'yelp-check validate is clean', out)
    rc, out = run(['yelp-check', 'links', help_dir])
    t.ok(rc == 0 and out.strip() == '', 'no broken links between pages', out)
    rc, out = run(['yelp-check', 'orphans', help_dir])
    t.ok(rc == 0 and out.strip() == '', 'every page is reachable from the index', out)

    pages = sorted(f for f in os.listdir(help_dir) if f.endswith('.page'))
    t.ok('index.page' in pages, 'there is an index page', pages)
    with open(help_meson, encoding='utf-8') as f:
        listed = sorted(set(re.findall(r"'([\w.-]+\.page)'", f.read())))
    t.ok(listed == pages, 'help/meson.build lists exactly the pages in help/C',
         f'listed: {listed}\non disk: {pages}')


# ---------------------------------------------------------------- pot
XGETTEXT_ARGS = [
    '--from-code=UTF-8', '--add-comments', '--sort-by-file',
    '--keyword=_', '--keyword=N_', '--keyword=C_:1c,2', '--keyword=NC_:1c,2',
    '--keyword=g_dcgettext:2', '--keyword=g_dngettext:2,3', '--keyword=g_dpgettext2:2c,3',
    '--flag=N_:1:pass-c-format', '--flag=C_:2:pass-c-format', '--flag=NC_:2:pass-c-format',
    '--flag=g_dngettext:2:pass-c-format', '--flag=g_strdup_printf:1:c-format',
    '--flag=g_string_printf:2:c-format', '--flag=g_string_append_printf:2:c-format',
    '--flag=g_error_new:3:c-format', '--flag=g_set_error:4:c-format',
]


def xgettext(source_root, potfiles, out):
    return run(['xgettext', '--package-name=cpns-gateway', '-f', potfiles, '-D', source_root,
                '-o', out] + XGETTEXT_ARGS, cwd=source_root)


def count_msgids(pot):
    with open(pot, encoding='utf-8') as f:
        return sum(1 for line in f if line.startswith('msgid ')) - 1


def check_pot(t, source_root):
    potfiles = os.path.join(source_root, 'po', 'POTFILES.in')
    with tempfile.TemporaryDirectory() as tmp:
        bad_list = write(tmp, 'POTFILES.in', 'src/does-not-exist.c\n')
        rc, out = xgettext(source_root, bad_list, os.path.join(tmp, 'bad.pot'))
        t.ok(rc != 0, 'xgettext fails on a POTFILES naming a missing file', out)

        pot = os.path.join(tmp, 'cpns-gateway.pot')
        rc, out = xgettext(source_root, potfiles, pot)
        t.ok(rc == 0, 'xgettext over POTFILES.in succeeds', out)
        if rc != 0:
            return
        n = count_msgids(pot)
        t.ok(n >= 20, f'the template has entries ({n})')
        with open(pot, encoding='utf-8') as f:
            text = f.read()
        for origin, sample in (('desktop file', 'msgid "Personal Network Gateway"'),
                               ('metainfo', 'msgid "Features:"'),
                               ('schema', 'msgid "Who assigns device keys"')):
            t.ok(sample in text, f'strings of the {origin} are extracted', sample)
        rc, out = run(['msgfmt', '--check-format', '-o', os.devnull, pot])
        t.ok(rc == 0, 'the template passes msgfmt --check-format', out)


# ---------------------------------------------------------------- po
BAD_PO = '''msgid ""
msgstr ""
"Content-Type: text/plain; charset=UTF-8\\n"
"Language: xx\\n"

#, c-format
msgid "%s devices"
msgstr "%d Geräte"
'''


def check_po(t, po_files):
    with tempfile.TemporaryDirectory() as tmp:
        bad = write(tmp, 'xx.po', BAD_PO)
        rc, out = run(['msgfmt', '--check', '-o', os.devnull, bad])
        t.ok(rc != 0, 'msgfmt --check rejects a known-bad translation', out)
    for po in po_files:
        name = os.path.basename(po)
        rc, out = run(['msgfmt', '--check', '--statistics', '-o', os.devnull, po],
                      env={'LC_ALL': 'C'})
        t.ok(rc == 0, f'{name}: msgfmt --check', out)
        t.ok('fuzzy' not in out and 'untranslated' not in out,
             f'{name}: no fuzzy or untranslated messages', out)


# ---------------------------------------------------------------- manifest
BAD_MANIFEST = {
    'id': 'org.example.Bad', 'runtime': 'org.gnome.Platform', 'sdk': 'org.gnome.Sdk',
    'modules': [{'name': 'x', 'buildsystem': 'meson',
                 'sources': [{'type': 'dir', 'paths': '..'}]}],
}
ALLOWED_FINISH_ARGS = {'--share=network', '--share=ipc', '--socket=wayland',
                       '--socket=fallback-x11', '--device=dri'}


def show_manifest(path):
    # flatpak-builder creates its state dir (.flatpak-builder) in the working
    # directory: keep it out of the checkout.
    with tempfile.TemporaryDirectory() as cwd:
        return run(['flatpak-builder', '--show-manifest', os.path.abspath(path)],
                   env={'G_DEBUG': 'fatal-warnings'}, cwd=cwd)


def check_manifest(t, manifest):
    with tempfile.TemporaryDirectory() as tmp:
        bad = write(tmp, 'bad.json', json.dumps(BAD_MANIFEST))
        rc, out = show_manifest(bad)
        t.ok(rc != 0, 'flatpak-builder rejects a manifest with an unknown property', out)

    rc, out = show_manifest(manifest)
    t.ok(rc == 0, 'flatpak-builder --show-manifest under G_DEBUG=fatal-warnings', out)
    with open(manifest, encoding='utf-8') as f:
        m = json.load(f)
    t.ok(m.get('id') == APP_ID and m.get('command') == 'cpns-gateway',
         'id and command', (m.get('id'), m.get('command')))
    version = m.get('runtime-version', '0')
    t.ok(m.get('runtime') == 'org.gnome.Platform' and m.get('sdk') == 'org.gnome.Sdk'
         and version.isdigit() and int(version) >= 50,
         'GNOME runtime 50 or newer', (m.get('runtime'), version))
    args = m.get('finish-args', [])
    t.ok(set(args) == ALLOWED_FINISH_ARGS,
         'finish-args are network, display and IPC only', args)
    t.ok(not any(a.startswith(('--filesystem', '--socket=session-bus', '--socket=system-bus',
                                '--talk-name', '--own-name', '--device=all'))
                 for a in args), 'no broad filesystem or bus access', args)
    modules = m.get('modules', [])
    last = modules[-1] if modules else {}
    sources = last.get('sources', [])
    t.ok(last.get('buildsystem') == 'meson' and last.get('run-tests') is True
         and len(sources) == 1 and sources[0].get('type') == 'dir'
         and sources[0].get('path') == '..',
         'one meson module from the checkout, tests enabled', last)


# ---------------------------------------------------------------- icons
def check_icons(t, svgs):
    with tempfile.TemporaryDirectory() as tmp:
        bad = write(tmp, 'bad.svg', '<svg xmlns="http://www.w3.org/2000/svg"><path d="M0 0"')
        rc, out = run(['rsvg-convert', '-o', os.path.join(tmp, 'bad.png'), bad])
        t.ok(rc != 0, 'rsvg-convert rejects a broken SVG', out)
        for svg in svgs:
            name = os.path.basename(svg)
            try:
                root = ET.parse(svg).getroot()
                parsed = root.tag == '{http://www.w3.org/2000/svg}svg'
                why = root.tag
            except ET.ParseError as e:
                parsed, why = False, e
            t.ok(parsed, f'{name} is SVG XML', why)
            if not parsed:
                continue
            png = os.path.join(tmp, name + '.png')
            rc, out = run(['rsvg-convert', '-w', '64', '-h', '64', '-o', png, svg])
            t.ok(rc == 0 and os.path.getsize(png) > 100, f'{name} renders', out)
            if name.endswith('-symbolic.svg'):
                t.ok(root.get('viewBox') == '0 0 16 16', f'{name} is drawn on a 16×16 grid',
                     root.get('viewBox'))
                colours = {e.get('fill') for e in root.iter() if e.get('fill')}
                strokes = [e.get('stroke') for e in root.iter() if e.get('stroke')]
                t.ok(colours <= {'#2e3436'} and not strokes,
                     f'{name} uses one fill colour and no strokes (recolourable)',
                     (colours, strokes))
            else:
                t.ok(root.get('viewBox') == '0 0 128 128', f'{name} is drawn on a 128×128 grid',
                     root.get('viewBox'))


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    t = Tap()
    cmd, args = argv[1], argv[2:]
    checks = {
        'desktop': lambda: check_desktop(t, *args),
        'metainfo': lambda: check_metainfo(t, *args),
        'schema': lambda: check_schema(t, *args),
        'help': lambda: check_help(t, *args),
        'pot': lambda: check_pot(t, *args),
        'po': lambda: check_po(t, args),
        'manifest': lambda: check_manifest(t, *args),
        'icons': lambda: check_icons(t, args),
    }
    if cmd not in checks:
        print(__doc__, file=sys.stderr)
        return 2
    checks[cmd]()
    return t.finish()


if __name__ == '__main__':
    sys.exit(main(sys.argv))
