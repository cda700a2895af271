// Entry point of the livesnap binary (daemon + CLI).
process.stderr.write("livesnap: the target is not built yet\n");
process.exit(1);
