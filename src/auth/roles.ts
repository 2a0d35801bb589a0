/**
 * The one table of who may call what: each StreamService RPC, by its short name, and the least
 * role that may call it for a team. The server and the policy both read it from here.
 */

/**
 * What an identity may do for a team: `reader` sees its streams (list, status, watch), `logs` reads
 * their log lines (worker output often holds secrets, so seeing a stream is not enough), `operator`
 * does both and starts, stops and restarts them. `admin` holds every role for every team at once.
 */
export const ROLES = ['reader', 'logs', 'operator', 'admin'] as const;
export type Role = (typeof ROLES)[number];
/** The roles held per team; `admin` is not one of them. */
export type TeamRole = Exclude<Role, 'admin'>;
export const TEAM_ROLES: readonly TeamRole[] = ['reader', 'logs', 'operator'];

/** What holding a role gives: itself and the roles it includes. */
const INCLUDES: Readonly<Record<Role, readonly Role[]>> = {
  reader: ['reader'],
  logs: ['logs'],
  operator: ['reader', 'logs', 'operator'],
  admin: ['reader', 'logs', 'operator', 'admin'],
};

/**
 * The least role each RPC needs. Seeing a stream needs `reader`; reading its log lines (Logs,
 * ListRuns) needs `logs`; anything that changes a stream's state needs `operator`. A Map, not an
 * object: a method named `constructor` or `__proto__` must not find something on Object.prototype.
 */
export const REQUIRED_ROLE: ReadonlyMap<string, Role> = new Map<string, Role>([
  ['ListStreams', 'reader'],
  ['GetStatus', 'reader'],
  ['WatchStatus', 'reader'],
  ['Logs', 'logs'],
  ['ListRuns', 'logs'],
  ['Start', 'operator'],
  ['Stop', 'operator'],
  ['Restart', 'operator'],
  ['Enable', 'operator'],
  ['Disable', 'operator'],
]);

/**
 * The role an RPC needs. A method missing from the table is taken to change something, so it
 * needs `operator`: forgetting to list a new RPC then locks readers out instead of letting them in.
 */
export function requiredRoleOf(method: string): Role {
  return REQUIRED_ROLE.get(method) ?? 'operator';
}

/** Whether holding `held` is enough for something that needs `required`. */
export function roleSatisfies(held: Role, required: Role): boolean {
  return INCLUDES[held].includes(required);
}

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}

export function isTeamRole(value: unknown): value is TeamRole {
  return typeof value === 'string' && (TEAM_ROLES as readonly string[]).includes(value);
}
