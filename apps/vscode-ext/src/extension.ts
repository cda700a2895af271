// Entry point: wires the connection registry, the Targets tree, the status bar, the commands and the
// log channel. Everything else lives in its own file.
import * as vscode from "vscode";
import { BlockMapPanel } from "./blockmap/panel.js";
import { registerCommands } from "./commands.js";
import { ConnectionRegistry } from "./connection/registry.js";
import { createStatusBar } from "./statusbar.js";
import { TargetsTreeProvider } from "./tree/provider.js";

export function activate(context: vscode.ExtensionContext): void {
  const log = vscode.window.createOutputChannel("livesnap", { log: true });
  const registry = new ConnectionRegistry(context.secrets, log);
  const tree = new TargetsTreeProvider(registry);
  const view = vscode.window.createTreeView("livesnap.targets", {
    treeDataProvider: tree,
    showCollapseAll: true,
  });
  context.subscriptions.push(log, registry, tree, view, createStatusBar(registry));
  context.subscriptions.push({ dispose: () => BlockMapPanel.disposeAll() });
  registerCommands({ context, registry, log });
  log.info(`livesnap extension ${context.extension.packageJSON.version as string} activated`);
  registry.load(vscode.workspace.getConfiguration("livesnap").get<boolean>("autoConnect", true));
}

export function deactivate(): void {}
