/**
 * systemd's state words the product knows (org.freedesktop.systemd1(5), "LoadState" and
 * "ActiveState"), in the API's enum order. The API's enums are named after them
 * (src/api/stateNames.ts derives the mapping), and clients/testdata/states.json lists the same
 * words for both clients; specs hold the three together.
 */
export const LOAD_STATES = ['loaded', 'not-found', 'bad-setting', 'error', 'masked'] as const;

export const ACTIVE_STATES = ['active', 'reloading', 'inactive', 'failed', 'activating', 'deactivating', 'maintenance'] as const;

export type LoadStateWord = (typeof LOAD_STATES)[number];
export type ActiveStateWord = (typeof ACTIVE_STATES)[number];

/** Where a status's tasks and memory came from (status.ts UsageSource), in the API's enum order. */
export const USAGE_SOURCES = ['none', 'systemd', 'procfs'] as const;
