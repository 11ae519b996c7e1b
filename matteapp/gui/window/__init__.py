"""The parts the main window (:mod:`matteapp.gui.main_window`) is composed of, one concern each.

- :mod:`~matteapp.gui.window.files`: open, save, autosave and recovery, recent files, drops, unsaved work;
- :mod:`~matteapp.gui.window.editing`: the tools, the automatic trimap, its band and scribbles, undo
  (with the Qt-free bookkeeping in :mod:`~matteapp.gui.window.auto_trimap`);
- :mod:`~matteapp.gui.window.running`: matting requests, their results into the document, the model;
- :mod:`~matteapp.gui.window.views`: view modes, backdrop, compare, routing display;
- :mod:`~matteapp.gui.window.export`: the Export dialog's files and the trimap PNG;
- :mod:`~matteapp.gui.window.help`: the shortcut table and About.

Every part talks to the document (:class:`~matteapp.document.state.MatteDocument`) and to the worker
(:class:`~matteapp.gui.worker.MatteController`, or its task face :class:`~matteapp.gui.window.tasks.TaskRunner`),
never to another part: where one concern's outcome matters to another (a run that wants the routing view,
an export that waits for a full-resolution run), the part emits a signal and the window connects it.
Each part creates its own actions and puts them into the menus it owns (``add_actions``); what they all
share — making an action, the menus, message boxes and the status bar — is in :mod:`~matteapp.gui.window.common`.
"""
