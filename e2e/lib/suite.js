// What every test file starts with: the services (topology.js) and one headless browser,
// started before the file's first test and stopped after its last, and shorthands for the
// people a test opens on them.
import { after, before } from "node:test";
import { join, launchBrowser, openUser } from "./browser.js";
import { backendOf, startTopology } from "./topology.js";

/**
 * Registers the file's `before` and `after` hooks and returns the suite; its `topology` and
 * `browser` are set once `before` has run. `options` go to `startTopology`; `beforeStop` runs
 * first in `after`, while the services are still up (e.g. to wake a process a test froze).
 */
export function useServices(label, options = {}, { beforeStop } = {}) {
  const suite = {
    topology: null,
    browser: null,
    /** A person with the page open, not in a room yet (`openUser` options). */
    openUser(userOptions) {
      return openUser(suite.browser, suite.topology, userOptions);
    },
    /** A person in `room` as `name`, connected (`joinOptions` as for `submitJoin`). */
    joined(room, name, userOptions, joinOptions) {
      return joinedUser(suite.browser, suite.topology, room, name, userOptions, joinOptions);
    },
    /** The backend index a client's latest WebSocket went to. */
    backendOf(name) {
      return backendOf(suite.topology, name);
    },
  };
  before(async () => {
    suite.topology = await startTopology(label, options);
    suite.browser = await launchBrowser();
  });
  after(async () => {
    await beforeStop?.();
    await suite.browser?.close();
    await suite.topology?.stop();
  });
  return suite;
}

/** A person on `topology`'s page who joined `room` as `name` and is connected. */
export async function joinedUser(browser, topology, room, name, userOptions, joinOptions) {
  const user = await openUser(browser, topology, userOptions);
  await join(user, room, name, joinOptions);
  return user;
}
