// Interviewer sign-in shared by the dashboard and the report page.
import { t } from "./i18n.js";

/** Resolves with the interviewer's name once signed in (shows the form in `container` if needed). */
export async function ensureSignedIn(container) {
  const resp = await fetch("/api/auth/me");
  const me = await resp.json();
  if (me.signed_in) return me.name;
  return new Promise((resolve) => {
    container.hidden = false;
    container.innerHTML = "";
    const form = document.createElement("form");
    form.className = "card signin";
    form.innerHTML = `
      <h2>${t("sign_in")}</h2>
      <label for="signin-name">${t("name")}</label>
      <input id="signin-name" type="text" autocomplete="username" required>
      <label for="signin-password">${t("password")}</label>
      <input id="signin-password" type="password" autocomplete="current-password" required>
      <p class="status" role="alert" id="signin-status"></p>
      <button type="submit" class="primary">${t("sign_in")}</button>`;
    if (!me.accounts_exist) {
      const hint = document.createElement("p");
      hint.className = "muted";
      hint.textContent = t("no_accounts");
      const code = document.createElement("pre");
      code.textContent = "./run.sh create-interviewer NAME";
      form.append(hint, code);
    }
    container.append(form);
    form.querySelector("#signin-name").focus();
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const name = form.querySelector("#signin-name").value.trim();
      const password = form.querySelector("#signin-password").value;
      const login = await fetch("/api/auth/login", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ name, password }),
      });
      if (!login.ok) {
        form.querySelector("#signin-status").textContent = t("wrong_password");
        return;
      }
      container.hidden = true;
      container.innerHTML = "";
      resolve(name);
    });
  });
}

export async function signOut() {
  await fetch("/api/auth/logout", { method: "POST" });
  location.reload();
}
