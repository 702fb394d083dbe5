export { defineCatalog, type Catalog, type CatalogOptions } from './catalog.js';
export type { AsyncApiOptions, AsyncApiServer } from './asyncapi.js';
