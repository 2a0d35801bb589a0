/**
 * The D-Bus object path of a unit, computed the way systemd does (bus_label_escape() in
 * src/basic/bus-label.c; go-systemd's unitPath): every byte outside [A-Za-z0-9], and a digit in
 * first place, becomes `_xx` in lower-case hex. systemd loads the unit on demand when such a path is addressed, so no LoadUnit
 * round trip is needed first.
 */
export function unitObjectPath(unit: string): string {
  if (unit === '') return '/org/freedesktop/systemd1/unit/_';
  let label = '';
  for (const [index, byte] of Buffer.from(unit, 'utf8').entries()) {
    const c = String.fromCharCode(byte);
    const plain = index === 0 ? /[A-Za-z]/ : /[A-Za-z0-9]/;
    label += plain.test(c) ? c : `_${byte.toString(16).padStart(2, '0')}`;
  }
  return `/org/freedesktop/systemd1/unit/${label}`;
}

const UNIT_PATH_PREFIX = '/org/freedesktop/systemd1/unit/';

/** The unit name of a unit object path (bus_label_unescape()), or undefined for other paths. */
export function unitNameOfObjectPath(path: string): string | undefined {
  if (!path.startsWith(UNIT_PATH_PREFIX)) return undefined;
  const label = path.slice(UNIT_PATH_PREFIX.length);
  if (label === '_') return '';
  const bytes: number[] = [];
  for (let i = 0; i < label.length; i++) {
    if (label[i] === '_' && /^[0-9a-f]{2}$/.test(label.slice(i + 1, i + 3))) {
      bytes.push(parseInt(label.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      bytes.push(label.charCodeAt(i));
    }
  }
  return Buffer.from(bytes).toString('utf8');
}
