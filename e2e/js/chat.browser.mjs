// Drives examples/chat in headless Chromium (Debian's /usr/bin/chromium,
// through playwright-core): two people join the lobby in two browser
// contexts; ada's message must reach bob's page, and a message the Go test
// publishes on NATS must appear on both. Run by e2e/chat_test.go, which
// watches the NATS side.
//
// Env: CHAT_URL (the page), CHROMIUM (browser path), SCREENSHOT (optional
// PNG path). Prints "ADA_SENT" once ada's message is visible to bob, then
// waits for "from nats" on both pages.
import { join, launch, timeout } from "./chat.pages.mjs";

const url = process.env.CHAT_URL;
const browser = await launch();
try {
  const ada = await join(browser, "ada", url);
  const bob = await join(browser, "bob", url);
  await ada.locator("#present li", { hasText: "bob" }).waitFor({ timeout });

  await ada.fill("#text", "hello bob");
  await ada.click("#send button");
  await bob.locator("#messages li", { hasText: "hello bob" }).waitFor({ timeout });
  console.log("ADA_SENT");

  await ada.locator("#messages li", { hasText: "from nats" }).waitFor({ timeout });
  await bob.locator("#messages li", { hasText: "from nats" }).waitFor({ timeout });
  if (process.env.SCREENSHOT) {
    await bob.screenshot({ path: process.env.SCREENSHOT });
  }
  console.log("OK");
} finally {
  await browser.close();
}
