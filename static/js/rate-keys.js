// What a key press means on the scoring page.  Pure functions of the event and a little context,
// so the mapping is in one place (the shortcuts overlay in rate.html describes the same table).

const TEXT_INPUTS = new Set(["text", "search", "email", "url", "tel", "password", "number"]);

/** True when the key should type into the focused element rather than drive the page. */
export function isTyping(target) {
  if (!target || !target.tagName) return false;
  if (target.isContentEditable) return true;
  const tag = target.tagName;
  return tag === "TEXTAREA" || tag === "SELECT" || (tag === "INPUT" && TEXT_INPUTS.has(target.type));
}

/** True when Enter or Space should act on the focused element itself (a button, a link, a summary). */
export function isControl(target) {
  if (!target || !target.tagName) return false;
  return ["BUTTON", "A", "SUMMARY"].includes(target.tagName);
}

/**
 * The action for a keydown, or null to let the browser handle it.
 * ctx: {typing, control, dialogOpen, inSkipReason}
 */
export function actionFor(event, ctx) {
  const key = event.key;
  const chord = event.ctrlKey || event.metaKey;
  if (event.altKey) return null;
  if (ctx.dialogOpen) return key === "?" ? { type: "help" } : null; // Esc closes the dialog natively
  if (ctx.typing) {
    if (key === "Escape") return { type: "leave-text" };
    if (key === "Enter" && chord) return { type: "submit" };
    if (key === "Enter" && ctx.inSkipReason) return { type: "skip" };
    return null;
  }
  if (chord) return key === "Enter" ? { type: "submit" } : null; // leave the browser's own shortcuts alone
  if (ctx.control && (key === "Enter" || key === " ")) return null;
  switch (key) {
    case "Enter": return { type: "submit" };
    case "?": return { type: "help" };
    case "s": case "S": return { type: "skip" };
    case "u": return { type: "previous" };
    case "g": return { type: "toggle", panel: "guidelines" };
    case "r": return { type: "toggle", panel: "reference" };
    case "ArrowDown": case "j": return { type: "move", by: 1 };
    case "ArrowUp": case "k": return { type: "move", by: -1 };
    case "ArrowRight": return { type: "step", by: 1 };
    case "ArrowLeft": return { type: "step", by: -1 };
    default: break;
  }
  if (/^[0-9]$/.test(key) || key === "y" || key === "n") return { type: "pick", key };
  return null;
}

/** Format milliseconds as m:ss for the on-page timer. */
export function clock(ms) {
  const seconds = Math.floor(ms / 1000);
  return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
}
