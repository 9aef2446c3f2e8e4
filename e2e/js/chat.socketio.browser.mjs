// Drives examples/chat's two pages at once in headless Chromium (Debian's
// /usr/bin/chromium, through playwright-core): ada joins the lobby on the
// STOMP page, bob on the Socket.IO page (socketio.html: socket.io-client
// served from the example's node_modules, polling then upgraded to a
// WebSocket). bob's message must reach ada's page and ada's bob's; a
// message the Go test publishes on NATS must appear on both. Run by
// e2e/chat_test.go (TestChatSocketIOAndSTOMPInChromium), which watches the
// NATS side.
//
// Env: CHAT_URL (the site's root), CHROMIUM (browser path). Prints
// "BOB_SENT" once bob's message is on ada's page, "ADA_SENT" once ada's is
// on bob's, then waits for "from nats" on both pages and prints "OK".
import { join, launch, timeout } from "./chat.pages.mjs";

const url = process.env.CHAT_URL;
const browser = await launch();
try {
  const ada = await join(browser, "ada", new URL("index.html", url).href);
  const bob = await join(browser, "bob", new URL("socketio.html", url).href);
  await ada.locator("#present li", { hasText: "bob" }).waitFor({ timeout });
  await bob.locator("#present li", { hasText: "ada" }).waitFor({ timeout });

  await bob.fill("#text", "hello ada");
  await bob.click("#send button");
  await ada.locator("#messages li", { hasText: "hello ada" }).waitFor({ timeout });
  console.log("BOB_SENT");

  await ada.fill("#text", "hello bob");
  await ada.click("#send button");
  await bob.locator("#messages li", { hasText: "hello bob" }).waitFor({ timeout });
  console.log("ADA_SENT");

  await ada.locator("#messages li", { hasText: "from nats" }).waitFor({ timeout });
  await bob.locator("#messages li", { hasText: "from nats" }).waitFor({ timeout });
  console.log("OK");
} finally {
  await browser.close();
}
