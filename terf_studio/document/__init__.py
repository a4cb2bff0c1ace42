"""One open document: the pair, its fusion and its edits with undo and redo (``session``), its
``.terf`` project file (``project``) and its export (``export``). No Qt."""
