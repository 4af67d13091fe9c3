// What the web page (app.js) and /docs (docs.js) share: building elements without markup,
// so no text from the server is ever run as HTML.
"use strict";

/// The element with that id.
function $(id) {
  return document.getElementById(id);
}

/// A new TAG element with a class and, when given, its text.
function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) {
    node.className = className;
  }
  if (text !== undefined) {
    node.textContent = text;
  }
  return node;
}
