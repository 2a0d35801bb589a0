/**
 * The D-Bus object path of a unit, computed the way systemd does (bus_label_escape() in
 * src/basic/bus-label.c; go-systemd's unitPath): every byte outside [A-Za-z0-9] becomes `_xx` in
 * lower-case hex. systemd loads the unit on demand when such a path is addressed, so no LoadUnit
 * round trip is needed first.
 */
export function unitObjectPath(unit: string): string {
  if (unit === '') return '/org/freedesktop/systemd1/unit/_';
  let label = '';
  for (const byte of Buffer.from(unit, 'utf8')) {
    const c = String.fromCharCode(byte);
    label += /[A-Za-z0-9]/.test(c) ? c : `_${byte.toString(16).padStart(2, '0')}`;
  }
  return `/org/freedesktop/systemd1/unit/${label}`;
}
