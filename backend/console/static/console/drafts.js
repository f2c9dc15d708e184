// Unsaved work kept in sessionStorage: it survives a reload and a trip to the login page in the same tab, and is
// dropped only when the server has accepted it. Tokens are never stored here (they live in HttpOnly cookies).

const PREFIX = 'liufang.draft.';

export function loadDraft(key) {
  try {
    const raw = sessionStorage.getItem(PREFIX + key);
    return raw ? JSON.parse(raw) : null;
  } catch (_) {
    return null;
  }
}

/** Store a draft; false if the browser refused (storage full or off), so the page can warn the user. */
export function saveDraft(key, value) {
  try {
    sessionStorage.setItem(PREFIX + key, JSON.stringify(value));
    return true;
  } catch (_) {
    return false;
  }
}

export function clearDraft(key) {
  try {
    sessionStorage.removeItem(PREFIX + key);
  } catch (_) {
    // nothing stored, nothing to clear
  }
}
