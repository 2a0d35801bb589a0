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
