// Building the page's rows from data. Text always goes in as textContent, never as markup:
// topics, headers and payloads are whatever publishers sent.

export function element<K extends keyof HTMLElementTagNameMap>(tag: K, text?: string, className?: string): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className !== undefined) node.className = className;
  return node;
}

export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const node = document.getElementById(id);
  if (node === null) throw new Error(`the page has no #${id}`);
  return node as T;
}

/** Replaces a table's body with one row per entry; numbers are right-aligned. */
export function fillTable(tableId: string, rows: Array<Array<string | number | Node>>, empty: string): void {
  const body = byId<HTMLTableElement>(tableId).tBodies[0];
  body.replaceChildren();
  if (rows.length === 0) {
    const cell = element('td', empty, 'muted');
    cell.colSpan = byId<HTMLTableElement>(tableId).tHead?.rows[0]?.cells.length ?? 1;
    body.append(row([cell]));
    return;
  }
  for (const cells of rows) {
    body.append(
      row(
        cells.map((value) => {
          if (value instanceof Node) return value;
          return element('td', String(value), typeof value === 'number' ? 'num' : undefined);
        }),
      ),
    );
  }
}

function row(cells: Node[]): HTMLTableRowElement {
  const tr = element('tr');
  for (const cell of cells) tr.append(cell instanceof HTMLTableCellElement ? cell : wrap(cell));
  return tr;
}

function wrap(node: Node): HTMLTableCellElement {
  const cell = element('td');
  cell.append(node);
  return cell;
}
