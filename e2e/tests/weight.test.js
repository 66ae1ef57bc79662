// Page weight of a first visit (empty cache): every request the page makes to the frontend,
// bytes on the wire (compressed, with headers) and bodies as decoded. Also checks that
// nothing is fetched from anywhere but the frontend (the WebSocket aside) and that assets
// are compressed and cacheable. Figures go to stdout and artifacts/page-weight.txt.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { useServices } from "../lib/suite.js";
import { artifactsDir } from "../lib/topology.js";

/** Budget for a first load, compressed; today's page is well under it. */
const BUDGET_BYTES = 30 * 1024;
const suite = useServices("weight");

test("a first load is small, compressed, cacheable and self-hosted", async () => {
  const context = await suite.browser.newContext();
  const page = await context.newPage();
  const rows = [];
  page.on("requestfinished", async (request) => {
    const response = await request.response();
    const sizes = await request.sizes();
    const body = await response.body().catch(() => Buffer.alloc(0));
    rows.push({
      url: request.url(),
      status: response.status(),
      wire: sizes.responseBodySize + sizes.responseHeadersSize,
      compressedBody: sizes.responseBodySize,
      body: body.length,
      encoding: (await response.headerValue("content-encoding")) || "identity",
      cache: (await response.headerValue("cache-control")) || "",
    });
  });
  await page.goto(`${suite.topology.frontendUrl}/c/weigh-in`, { waitUntil: "load" });
  await page.waitForTimeout(300);
  await context.close();

  const origin = suite.topology.frontendUrl;
  assert.ok(rows.length >= 3, JSON.stringify(rows));
  for (const row of rows) {
    assert.ok(row.url.startsWith(origin), `only the frontend serves assets: ${row.url}`);
    assert.equal(row.status, 200, row.url);
    assert.notEqual(row.encoding, "identity", `${row.url} is compressed`);
    if (row.url.includes("/static/")) assert.match(row.cache, /immutable/, row.url);
  }
  const sum = (key) => rows.reduce((total, row) => total + row[key], 0);
  const lines = [
    ...rows.map((r) => `  ${new URL(r.url).pathname}  ${r.compressedBody} B ${r.encoding} (${r.body} B uncompressed), ${r.wire} B with headers`),
    `page weight: ${rows.length} requests, ${sum("compressedBody")} B compressed (${sum("wire")} B on the wire with headers), ${sum("body")} B uncompressed`,
  ];
  console.log(lines.join("\n"));
  fs.mkdirSync(artifactsDir, { recursive: true });
  fs.writeFileSync(path.join(artifactsDir, "page-weight.txt"), `${lines.join("\n")}\n`);
  assert.ok(sum("wire") < BUDGET_BYTES, `first load ${sum("wire")} B exceeds ${BUDGET_BYTES} B`);
});
