// Search as you type: /api/search answers, results are written as text (never as HTML).
"use strict";

const input = document.getElementById("q");
const typeSelect = document.getElementById("type");
const list = document.getElementById("results");
const status = document.getElementById("status");
let pending = null;
let timer = null;

function entityLink(entity) {
  const item = document.createElement("li");
  const link = document.createElement("a");
  link.href = "/entity?id=" + encodeURIComponent(entity.id);
  const name = document.createElement("bdi");
  name.textContent = entity.name;
  link.appendChild(name);
  item.appendChild(link);
  for (const type of entity.types) {
    const badge = document.createElement("span");
    badge.className = "badge type";
    badge.textContent = type;
    item.append(" ", badge);
  }
  if (entity.match !== entity.name) {
    const match = document.createElement("span");
    match.className = "match";
    const written = document.createElement("bdi");
    written.textContent = entity.match;
    match.append(" also written ", written);
    item.appendChild(match);
  }
  return item;
}

async function search() {
  const text = input.value.trim();
  const params = new URLSearchParams({ q: text, type: typeSelect.value });
  history.replaceState(null, "", text ? "/?" + new URLSearchParams({ q: text }) : "/");
  if (pending) pending.abort();
  if (!text) {
    list.replaceChildren();
    status.textContent = "";
    return;
  }
  pending = new AbortController();
  try {
    const response = await fetch("/api/search?" + params, { signal: pending.signal });
    const answer = await response.json();
    if (!response.ok) {
      status.textContent = answer.error;
      list.replaceChildren();
      return;
    }
    list.replaceChildren(...answer.results.map(entityLink));
    const n = answer.results.length;
    status.textContent = n ? `${n} entit${n === 1 ? "y" : "ies"}` : "no entity has that name";
    document.body.dataset.searched = text;
  } catch (error) {
    if (error.name !== "AbortError") status.textContent = "search failed: " + error.message;
  }
}

function later() {
  clearTimeout(timer);
  timer = setTimeout(search, 120);
}

async function loadTypes() {
  const response = await fetch("/api/types");
  if (!response.ok) return;
  for (const type of (await response.json()).types) {
    const option = document.createElement("option");
    option.value = type;
    option.textContent = type;
    typeSelect.appendChild(option);
  }
}

input.addEventListener("input", later);
typeSelect.addEventListener("change", search);
document.querySelector("form.search").addEventListener("submit", (event) => {
  event.preventDefault();
  search();
});
loadTypes();
if (input.value) search();
