import { describe, expect, it } from 'vitest';
import { installSettings } from '../../src/systemd/installSection.js';

describe("a unit file's [Install] settings, as systemctl enable reads them (systemd.syntax(7))", () => {
  it('takes Key=value lines of [Install] only, blanks around = ignored, in order', () => {
    const text = '[Unit]\nAlso=not-install.service\n[Service]\nExecStart=/bin/true\n[Install]\nWantedBy = default.target\nAlso=a.service b.service\nAlias=c.service\n';
    expect(installSettings(text)).toEqual([
      { key: 'WantedBy', value: 'default.target' },
      { key: 'Also', value: 'a.service b.service' },
      { key: 'Alias', value: 'c.service' },
    ]);
  });

  it('skips comments and joins a line ending in a backslash with the next', () => {
    const text = '[Install]\n# Also=commented.service\n; Alias=also-commented.service\nAlso=a.service \\\n  b.service\n  [Service]\nAlias=after.service\n';
    expect(installSettings(text)).toEqual([{ key: 'Also', value: 'a.service  b.service' }]);
  });

  it('finds nothing in a file without [Install]', () => {
    expect(installSettings('[Service]\nExecStart=/bin/true\n')).toEqual([]);
  });
});
