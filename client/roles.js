// A person's trusted roles in this room, such as "moderator": read only from `extras.userClaim` of their
// messages and presence. Ably writes that field itself, copying the most specific `ably.channel.*` claim
// of the JWT the token function signed (a client cannot set it), so other people can trust it. Nothing a
// client writes (a message's data, its own extras) is ever read for a role.
//
// Ably's docs give the claim as a string; the token function puts JSON in it: {"roles":["moderator"]}.
// Anything else (not a string, not JSON, no list of names, too long) means no role.

const MAX_CLAIM_LENGTH = 2048; // the function bounds its claim below this; longer is not ours
const MAX_ROLES = 3; // shown per person
const MAX_ROLE_LENGTH = 32;

/** The role names in `extras` (a message's or a presence message's), trusted and bounded; [] for none. */
export function trustedRoles(extras) {
  const claim = extras && typeof extras === 'object' ? extras.userClaim : undefined;
  if (typeof claim !== 'string' || claim.length > MAX_CLAIM_LENGTH) return [];
  let parsed;
  try {
    parsed = JSON.parse(claim);
  } catch {
    return [];
  }
  const roles = parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? parsed.roles : undefined;
  if (!Array.isArray(roles)) return [];
  const names = roles
    .filter((role) => typeof role === 'string')
    .map((role) => role.trim())
    .filter((role) => role && [...role].length <= MAX_ROLE_LENGTH);
  return [...new Set(names)].slice(0, MAX_ROLES);
}

/** The tags for `roles`, each a <span class="role">; rendered as text, never markup. */
export function roleTags(roles) {
  return roles.map((role) => {
    const tag = document.createElement('span');
    tag.className = 'role';
    tag.textContent = role;
    return tag;
  });
}
