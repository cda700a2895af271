// Status-bar item: connection state of every target; click = the Targets view.
import * as vscode from "vscode";
import type { ConnectionRegistry } from "./connection/registry.js";
import { summarize } from "./status-summary.js";

export function createStatusBar(registry: ConnectionRegistry): vscode.Disposable {
  const item = vscode.window.createStatusBarItem("livesnap.status", vscode.StatusBarAlignment.Left, 50);
  item.name = "livesnap";
  // Click: show the Targets view (connect/disconnect live in its context menus).
  item.command = "livesnap.targets.focus";
  const update = () => {
    const s = summarize(
      registry.all().map((c) => ({ name: c.config.name, url: c.config.url, status: c.status })),
    );
    item.text = s.text;
    item.tooltip = s.tooltip;
    item.accessibilityInformation = { label: s.tooltip };
    item.backgroundColor =
      s.severity === "error"
        ? new vscode.ThemeColor("statusBarItem.errorBackground")
        : s.severity === "warning"
          ? new vscode.ThemeColor("statusBarItem.warningBackground")
          : undefined;
    item.show();
  };
  update();
  const sub = registry.onDidChange(update);
  return vscode.Disposable.from(item, sub);
}
