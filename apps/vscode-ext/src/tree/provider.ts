// Maps the pure tree model (tree-model.ts) onto VS Code's TreeDataProvider.
import * as vscode from "vscode";
import type { ConnectionRegistry } from "../connection/registry.js";
import { type ConnectionView, childrenOf, type TreeNode } from "./tree-model.js";

export class TargetsTreeProvider implements vscode.TreeDataProvider<TreeNode>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<TreeNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly sub: vscode.Disposable;

  constructor(private readonly registry: ConnectionRegistry) {
    this.sub = registry.onDidChange(() => this.scheduleRefresh());
  }

  views(): ConnectionView[] {
    return this.registry
      .all()
      .map((c) => ({ name: c.config.name, url: c.config.url, status: c.status, state: c.state }));
  }

  /** Event bursts (a group snapshot, a reconnect) become one repaint. */
  private scheduleRefresh(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.changed.fire(undefined);
    }, 50);
  }

  getChildren(element?: TreeNode): TreeNode[] {
    return childrenOf(this.views(), element);
  }

  getTreeItem(node: TreeNode): vscode.TreeItem {
    const state =
      node.collapsible === "none"
        ? vscode.TreeItemCollapsibleState.None
        : node.collapsible === "expanded"
          ? vscode.TreeItemCollapsibleState.Expanded
          : vscode.TreeItemCollapsibleState.Collapsed;
    const item = new vscode.TreeItem(node.label, state);
    item.id = node.id;
    item.description = node.description;
    item.tooltip = node.tooltip;
    item.contextValue = node.contextValue;
    item.iconPath = new vscode.ThemeIcon(
      node.icon,
      node.iconColor ? new vscode.ThemeColor(node.iconColor) : undefined,
    );
    if (node.command) item.command = { ...node.command, arguments: [node] };
    else if (node.ref.kind === "volume" || node.ref.kind === "snapshot") {
      item.command = { command: "livesnap.openBlockMap", title: "Open Block Map", arguments: [node] };
    }
    item.accessibilityInformation = {
      label: [node.label, node.description].filter(Boolean).join(", "),
    };
    return item;
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.sub.dispose();
    this.changed.dispose();
  }
}
