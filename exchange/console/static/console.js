// The console's own script: nothing yet beyond marking that scripts run under the CSP.
document.documentElement.dataset.console = "ready";
