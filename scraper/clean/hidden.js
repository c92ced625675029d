// Run in a rendered page (Playwright page.evaluate) after its scripts ran: mark every
// element the browser does not show with data-semantic-hidden="<reason>" (the outermost
// one only) and return the page's HTML, serialized in the same task so that no script of
// the page can take the marks off in between. Style functions come from a fresh frame, so
// that a page that replaced getComputedStyle or getBoundingClientRect cannot lie to it.
// Reasons: display, visibility, opacity, font_size, off_screen, zero_size,
// transparent_text, same_colour (see scraper/clean/hidden.py, which removes them).
() => {
  const MARK = "data-semantic-hidden";
  let frame = null;
  let realm = window;
  try {
    frame = document.createElement("iframe");
    frame.setAttribute("style", "display:none");
    document.documentElement.appendChild(frame);
    realm = frame.contentWindow || window;
  } catch (e) {
    frame = null;
  }
  const styleOf = (el) => realm.getComputedStyle.call(window, el);
  const rectOf = (el) => realm.Element.prototype.getBoundingClientRect.call(el);
  const mark = (el, why) => realm.Element.prototype.setAttribute.call(el, MARK, why);
  const rgba = (text) => {
    const m = /rgba?\(([^)]+)\)/.exec(text || "");
    if (!m) return null;
    const parts = m[1].split(/[,\s/]+/).filter(Boolean).map(Number);
    return [parts[0], parts[1], parts[2], parts.length > 3 ? parts[3] : 1];
  };
  const ownText = (el) => {
    for (const node of el.childNodes) {
      if (node.nodeType === 3 && node.nodeValue.trim()) return true;
    }
    return false;
  };
  const background = (el) => {
    for (let e = el; e && e.nodeType === 1; e = e.parentElement) {
      const c = rgba(styleOf(e).backgroundColor);
      if (c && c[3] > 0) return c;
      if (styleOf(e).backgroundImage !== "none") return null; // text over a picture
    }
    return [255, 255, 255, 1];
  };
  const reason = (el) => {
    const s = styleOf(el);
    if (s.display === "none") return "display";
    if (s.visibility === "hidden" || s.visibility === "collapse") return "visibility";
    // Transparent, unless it is the first frame of an animation (fade-in on scroll).
    const moving = s.transform !== "none" || parseFloat(s.transitionDuration) > 0 ||
      s.animationName !== "none";
    if (parseFloat(s.opacity) === 0 && !moving) return "opacity";
    const text = ownText(el);
    if (text && parseFloat(s.fontSize) === 0) return "font_size";
    const r = rectOf(el);
    // Off the page's left or top edge (a carousel's slides wait to the right: content).
    if ((r.width > 0 || r.height > 0) &&
        (r.right + window.scrollX <= 0 || r.bottom + window.scrollY <= 0)) return "off_screen";
    if (
      text && r.width * r.height <= 1 &&
      (s.overflow === "hidden" || s.overflow === "clip" || s.clip === "rect(0px, 0px, 0px, 0px)")
    ) return "zero_size";
    if (text) {
      const c = rgba(s.color);
      if (c && c[3] === 0) return "transparent_text";
      const b = background(el);
      if (c && b && c[0] === b[0] && c[1] === b[1] && c[2] === b[2]) return "same_colour";
    }
    return null;
  };
  try {
    const body = document.body;
    if (body) {
      const walker = document.createTreeWalker(body, 1);
      let el = walker.nextNode();
      while (el) {
        const skip = ["SCRIPT", "STYLE", "NOSCRIPT", "TEMPLATE"].includes(el.tagName);
        const why = skip ? null : reason(el);
        if (why) {
          mark(el, why);
          // skip the marked element's subtree
          let next = walker.nextSibling();
          while (!next && walker.parentNode()) next = walker.nextSibling();
          el = next;
        } else {
          el = walker.nextNode();
        }
      }
    }
  } catch (e) {
    // marks are best effort: the static rules of hidden.py still apply
  }
  if (frame) frame.remove();
  const doctype = document.doctype ? "<!DOCTYPE html>" : "";
  return doctype + document.documentElement.outerHTML;
};
