/* The MusicKit page: configure MusicKit with the developer token, ask for the fan's authorization on a
   press of the button, and post the Music User Token (or MusicKit's error) back to the landing app. */
(function () {
  "use strict";
  var button = document.getElementById("apple-connect");
  var form = document.getElementById("apple-form");
  var status = document.getElementById("apple-status");
  var started = false;
  function send(field, value) {
    form.elements[field].value = value;
    form.submit();
  }
  function ready() {
    if (started || !window.MusicKit) return;
    started = true;
    Promise.resolve(MusicKit.configure({
      developerToken: button.dataset.developerToken,
      app: { name: button.dataset.appName, build: "1" }
    })).then(function (music) {
      music = music || MusicKit.getInstance();
      button.disabled = false;
      status.textContent = "";
      button.addEventListener("click", function () {
        button.disabled = true;
        status.textContent = "Waiting for Apple Music…";
        music.authorize().then(function (token) {
          if (token) send("music_user_token", token); else send("error", "AUTHORIZATION_ERROR");
        }, function (error) {
          send("error", (error && error.errorCode) || "AUTHORIZATION_ERROR");
        });
      });
    }, function () {
      status.textContent = "Apple Music could not start. Please try again later.";
    });
  }
  document.addEventListener("musickitloaded", ready);
  if (window.MusicKit) ready();
})();
