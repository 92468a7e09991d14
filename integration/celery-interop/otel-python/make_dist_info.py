# Writes minimal .dist-info (METADATA, entry_points.txt) for source trees put on PYTHONPATH,
# so importlib.metadata finds their entry points (OpenTelemetry loads its context via one).
import pathlib, re, sys, tomllib
root, site = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
site.mkdir(parents=True, exist_ok=True)
for pp in root.rglob('pyproject.toml'):
    meta = tomllib.loads(pp.read_text())['project']
    name = meta['name']
    vfile = next((pp.parent / 'src').rglob('version.py'), None) or next((pp.parent / 'src').rglob('version/__init__.py'))
    version = re.search(r'__version__ = "([^"]+)"', vfile.read_text()).group(1)
    d = site / f"{name.replace('-', '_')}-{version}.dist-info"
    d.mkdir(exist_ok=True)
    (d / 'METADATA').write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n" + ''.join(f"Requires-Dist: {r}\n" for r in meta.get('dependencies', [])))
    eps = meta.get('entry-points', {})
    (d / 'entry_points.txt').write_text(''.join(f"[{g}]\n" + ''.join(f"{k} = {v}\n" for k, v in e.items()) + "\n" for g, e in eps.items()))
    print(name, version, list(eps))
