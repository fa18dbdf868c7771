// The visitor's name: checked before connecting (the token function would refuse it later, less kindly)
// and remembered on this device, so a reload needs one keypress to rejoin.
const MAX_NAME_LENGTH = 64;
const STORAGE_KEY = 'serverless-websockets.name';
const CONTROL_CHARACTERS = /[\p{Cc}\p{Cs}]/u;

/** Whether `name` has more characters (code points, not UTF-16 units) than a name may. */
export function nameTooLong(name) {
  return [...name].length > MAX_NAME_LENGTH;
}

/** Why `name` (already trimmed) cannot be used, or null when it can. */
export function nameProblem(name) {
  if (!name) return 'Enter a name to join.';
  if (name === '*') return '“*” cannot be a name: Ably reads it as “any client”. Choose another.';
  if (nameTooLong(name)) {
    return `Use at most ${MAX_NAME_LENGTH} characters; this name has ${[...name].length}.`;
  }
  if (CONTROL_CHARACTERS.test(name)) return 'Names cannot contain control characters.';
  return null;
}

// Storage can be off (private modes, blocked cookies); the page then simply does not remember.
export function rememberedName() {
  try {
    return localStorage.getItem(STORAGE_KEY) || '';
  } catch {
    return '';
  }
}

export function rememberName(name) {
  try {
    localStorage.setItem(STORAGE_KEY, name);
  } catch {
    // not remembered; nothing else depends on it
  }
}
