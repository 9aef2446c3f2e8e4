// What the chat example's browser scripts share (chat.browser.mjs,
// chat.socketio.browser.mjs): Debian's Chromium driven by playwright-core,
// and a person who opens a chat page and joins a room.
import { chromium } from "playwright-core";

// timeout bounds every wait for the page, in milliseconds.
export const timeout = 15000;

// launch starts headless Chromium: CHROMIUM, or /usr/bin/chromium.
export function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

// join opens url in a browser context of its own, joins room as name, and
// returns the page once it is online and name is among who is here.
export async function join(browser, name, url, room = "lobby") {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  page.on("console", (m) => console.error(`[${name}] ${m.text()}`));
  page.on("pageerror", (e) => console.error(`[${name}] page error: ${e.message}`));
  await page.goto(url);
  await page.fill("#name", name);
  await page.fill("#room", room);
  await page.click("#join button");
  await page.locator("#status.online").waitFor({ timeout });
  await page.locator("#present li", { hasText: name }).waitFor({ timeout });
  return page;
}
