"""The start-up sync (issue 13): a company's e-conomic master data copied into Rackbeat once.

The same importer as every other e-conomic -> Rackbeat transfer (`tasks.sync.importer`), run over every
record of the nine master-data kinds in dependency order, page by page, resumable and safe to run twice.

- `order`: the kinds, in dependency order (pure);
- `pages`: e-conomic's collections read one page (1,000 records) at a time, and their totals;
- `index`: Rackbeat's existing records of a kind, indexed in Redis by their `match_on` identities;
- `state`: the run in Redis: lock, checkpoint per kind, progress and the fields matched records differ in;
- `importer`: `StartupImporter`, the importer handed each page's documents, matching through the index;
- `cached_bindings`: the dependencies' bindings read once per run;
- `runner`: the run itself (pages in order, documents of a page in a thread pool);
- `plan`: the dry run (reads only);
- `wiring`: a runner on this process's settings, clients and store.

The Celery task is `tasks.startup_tasks`; the command line `tasks.cli.startup` (`rbsync startup-sync`).
"""
