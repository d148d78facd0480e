// The entry point of the Uppy bundle the tus browser test loads: Uppy's
// core and its Tus plugin, as an app would import them, on window.
import Uppy from '@uppy/core';
import Tus from '@uppy/tus';

window.Uppy = Uppy;
window.UppyTus = Tus;
