export {
  browserCandidates,
  CHROME_PATH_ENV,
  type FindBrowserOptions,
  findBrowser,
} from './find-browser.js';
export {
  type BrowserProfileOptions,
  browserProfilePath,
  removeBrowserProfile,
  TEMPORARY_PROFILE_PREFIX,
  userDataDirectory,
} from './profile.js';
export { type PuppeteerDriverOptions, puppeteerDriver } from './puppeteer-driver.js';
