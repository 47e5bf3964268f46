/*
 * AstralytiQ's JupyterLab extension, written by hand as a module federation container (the
 * format JupyterLab loads prebuilt extensions in), so that it needs no build step:
 * `init(shareScope)` receives JupyterLab's shared modules, `get("./extension")` returns the
 * plugin. It adds the command "AstralytiQ" (palette, category AstralytiQ) and a Launcher tile
 * that open the app, served by the server extension at {base_url}astralytiq/apps/, and, in
 * Voila pages, draws Plotly figures interactive at once (no stored PNG snapshot: see below).
 * Every JupyterLab service it uses is optional, so it loads quietly where they are absent.
 */
var _JUPYTERLAB;
(function () {
  "use strict";
  var NAME = "astralytiq-jupyter";
  var COMMAND = "astralytiq:open-app";
  var APP = "astralytiq/apps/astralytiq.ipynb";
  var ICON =
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" width="16">' +
    '<rect class="jp-icon3" fill="#1f6feb" x="2" y="2" width="20" height="20" rx="4"/>' +
    '<path fill="#ffffff" d="M6 17h2.2V11H6zm4.9 0h2.2V7h-2.2zm4.9 0H18v-4h-2.2z"/></svg>';
  var shared = {};

  // The highest version JupyterLab shares of a package, loaded; null if absent.
  function use(name) {
    var versions = shared[name];
    if (!versions) {
      return Promise.resolve(null);
    }
    var keys = Object.keys(versions).sort(function (a, b) {
      var pa = a.split("."), pb = b.split(".");
      for (var i = 0; i < Math.max(pa.length, pb.length); i++) {
        var d = (parseInt(pa[i], 10) || 0) - (parseInt(pb[i], 10) || 0);
        if (d) { return d; }
      }
      return 0;
    });
    var entry = versions[keys[keys.length - 1]];
    return Promise.resolve(entry.get()).then(function (factory) {
      entry.loaded = 1;
      return factory();
    }).catch(function () {
      return null;
    });
  }

  function appUrl() {
    var base = "/";
    var node = document.getElementById("jupyter-config-data");
    if (node) {
      try {
        base = JSON.parse(node.textContent || "{}").baseUrl || "/";
      } catch (e) {
        base = "/";
      }
    }
    return base.replace(/\/?$/, "/") + APP;
  }

  function plugin(launcherModule, apputils, ui) {
    var ILauncher = launcherModule && launcherModule.ILauncher;
    var ICommandPalette = apputils && apputils.ICommandPalette;
    var optional = [ILauncher, ICommandPalette].filter(Boolean);
    var icon = ui && ui.LabIcon ? new ui.LabIcon({ name: "astralytiq:logo", svgstr: ICON }) : undefined;
    return {
      id: NAME + ":launcher",
      description: "Opens the AstralytiQ app from the Launcher and the command palette.",
      autoStart: true,
      optional: optional,
      activate: function (app) {
        var services = Array.prototype.slice.call(arguments, 1);
        var launcher = ILauncher ? services[optional.indexOf(ILauncher)] : null;
        var palette = ICommandPalette ? services[optional.indexOf(ICommandPalette)] : null;
        app.commands.addCommand(COMMAND, {
          label: "AstralytiQ",
          caption: "Open the AstralytiQ app (datasets, cleaning, models, dashboards)",
          icon: icon,
          execute: function () {
            window.open(appUrl(), "_blank", "noopener");
          }
        });
        if (launcher) {
          launcher.add({ command: COMMAND, category: "AstralytiQ", rank: 0 });
        }
        if (palette) {
          palette.addItem({ command: COMMAND, category: "AstralytiQ" });
        }
      }
    };
  }


  // Plotly figures in Voila drawn interactive at once. jupyterlab-plotly's renderer stores a
  // PNG snapshot of each figure into its output (model.setData) and, when a view of that
  // output is drawn again (a section of the app shown again), shows the PNG until the mouse
  // enters it. In Voila pages the renderer gets the figure without a snapshot and a model
  // that keeps none, so every view draws the live figure and no PNG goes back to the kernel.
  var PLOTLY = "application/vnd.plotly.v1+json";

  function withoutSnapshot(model) {
    var data = {};
    Object.keys(model.data || {}).forEach(function (key) {
      if (key !== "image/png") { data[key] = model.data[key]; }
    });
    return {
      data: data,
      metadata: model.metadata,
      trusted: model.trusted,
      setData: function () {}
    };
  }

  function plotlyPlugin(rendermimeModule) {
    var IRenderMimeRegistry = rendermimeModule && rendermimeModule.IRenderMimeRegistry;
    if (!IRenderMimeRegistry) {
      return null;
    }
    return {
      id: NAME + ":plotly-live",
      description: "Plotly figures in Voila pages drawn interactive at once (no PNG snapshot).",
      autoStart: true,
      requires: [IRenderMimeRegistry],
      activate: function (app, rendermime) {
        if (app.name !== "Voila") {
          return;  // JupyterLab keeps its snapshots (exports of notebooks use them)
        }
        var original = null;
        var live = {
          safe: true,
          mimeTypes: [PLOTLY],
          createRenderer: function (options) {
            var renderer = original.createRenderer(options);
            var render = renderer.renderModel.bind(renderer);
            renderer.renderModel = function (model) {
              return render(withoutSnapshot(model));
            };
            return renderer;
          }
        };
        var add = rendermime.addFactory.bind(rendermime);
        // Ours takes the place of jupyterlab-plotly's factory as soon as that is registered.
        function adopt(factory) {
          if (factory && factory !== live && (factory.mimeTypes || []).indexOf(PLOTLY) >= 0) {
            var first = original === null;
            original = factory;
            if (first) {
              add(live, -10);
            }
          }
        }
        rendermime.addFactory = function (factory, rank) {
          add(factory, rank);
          adopt(factory);
        };
        adopt(rendermime.getFactory(PLOTLY));
      }
    };
  }

  var container = {
    init: function (shareScope) {
      shared = shareScope || {};
      return Promise.resolve();
    },
    get: function (module) {
      if (module !== "./extension" && module !== "./index") {
        return Promise.reject(new Error('Module "' + module + '" does not exist in container.'));
      }
      return Promise.all([
        use("@jupyterlab/launcher"),
        use("@jupyterlab/apputils"),
        use("@jupyterlab/ui-components"),
        use("@jupyterlab/rendermime")
      ]).then(function (mods) {
        var plugins = [plugin(mods[0], mods[1], mods[2]), plotlyPlugin(mods[3])];
        var exports = { __esModule: true, default: plugins.filter(Boolean) };
        return function () {
          return exports;
        };
      });
    }
  };
  (_JUPYTERLAB = _JUPYTERLAB === undefined ? {} : _JUPYTERLAB)[NAME] = container;
})();
