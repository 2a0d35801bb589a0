/** The auth pieces the server wires in: the access file, the policy, the role table, tokens. */
export { AccessFileError, loadAccessFile, parseAccessPolicy, formatOfPath, type AccessFileFormat } from './accessFile.js';
export { AccessPolicy, type Decision, type Identity, type PeerCertificateLike } from './policy.js';
export { REQUIRED_ROLE, ROLES, requiredRoleOf, roleSatisfies, type Role, type TeamRole } from './roles.js';
export { bearerTokenOf, hashToken } from './tokens.js';
export { isIdentityName, type AccessRules, type CertificateRule, type Grant, type TokenRule } from './accessRules.js';
