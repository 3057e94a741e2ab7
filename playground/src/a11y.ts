// GraphiQL renders each editor tab as <li role="tab"> holding two buttons (select, close),
// which axe reports as nested interactive controls (serious). Present the tabs as what they
// are instead: a list of buttons, the active one marked with aria-current.
function fixTabs(root: ParentNode) {
  for (const list of root.querySelectorAll<HTMLElement>('.graphiql-container [role="tablist"]')) {
    list.removeAttribute('role');
    list.setAttribute('aria-label', 'Operation tabs');
  }
  for (const tab of root.querySelectorAll<HTMLElement>('.graphiql-tab')) {
    if (tab.hasAttribute('role')) tab.removeAttribute('role');
    const active = tab.getAttribute('aria-selected') === 'true' || tab.classList.contains('graphiql-tab-active');
    if (tab.hasAttribute('aria-selected')) tab.removeAttribute('aria-selected');
    const button = tab.querySelector<HTMLElement>('.graphiql-tab-button');
    if (!button) continue;
    if (active && button.getAttribute('aria-current') !== 'true') button.setAttribute('aria-current', 'true');
    if (!active && button.hasAttribute('aria-current')) button.removeAttribute('aria-current');
  }
}

export function installA11yFixes() {
  const observer = new MutationObserver(() => fixTabs(document));
  observer.observe(document.body, {
    subtree: true, childList: true, attributes: true, attributeFilter: ['role', 'aria-selected', 'class'],
  });
  fixTabs(document);
}
