// The transcript page's player: an <audio>/<video> element streaming the proxy (or the ASR audio, whichever the
// browser plays) by Range requests, and wavesurfer.js drawing the waveform from the peaks stored at processing — the
// browser never downloads or decodes the whole recording. Resuming after a pause starts 2 s earlier, so the editor
// hears again the words they stopped at.

import WaveSurfer from '../../vendor/wavesurfer.js-7.12.12/wavesurfer.esm.js';
import {api} from '../api.js';

export const SPEEDS = [0.5, 0.75, 1, 1.25, 1.5, 1.75, 2];
export const SKIP_SECONDS = 3;
export const RESUME_REWIND_SECONDS = 2;

const PLAYABLE = {proxy_audio: 'audio/mp4; codecs="mp4a.40.2"', proxy_video: 'video/mp4; codecs="avc1.42E01E, mp4a.40.2"',
  asr: 'audio/flac'};

export class Player extends EventTarget {
  constructor({container, nonce}) {
    super();
    this.container = container;
    this.nonce = nonce;
    this.media = null;
    this.wavesurfer = null;
    this.resumeFrom = null;
    this.duration = 0;
  }

  /** Pick a variant this browser plays: the proxy first (small), else the 16 kHz ASR audio. */
  static source(material) {
    const variants = new Set(material.variants || []);
    const probe = document.createElement(material.kind === 'video' ? 'video' : 'audio');
    const proxyType = material.kind === 'video' ? PLAYABLE.proxy_video : PLAYABLE.proxy_audio;
    if (variants.has('proxy') && probe.canPlayType(proxyType)) return {variant: 'proxy', video: material.kind === 'video'};
    if (variants.has('asr') && probe.canPlayType(PLAYABLE.asr)) return {variant: 'asr', video: false};
    if (variants.has('proxy')) return {variant: 'proxy', video: material.kind === 'video'};
    return null;
  }

  /** Start reading the stored waveform peaks of a material (before the page needs them); resolves to the peaks
   * JSON, or null when the material has none (yet). */
  prefetch(materialId) {
    return api.get(`/api/v1/materials/${materialId}/content?variant=waveform`)
      .then(({data}) => data)
      .catch((error) => {
        if (error && error.status === 404) return null;
        throw error;
      });
  }

  async load(material, fallbackDuration, prefetched = null) {
    const source = Player.source(material);
    this.duration = fallbackDuration || 0;
    if (!source) {
      this.dispatchEvent(new CustomEvent('unavailable', {detail: '该资料没有可播放的音频（可能仍在处理中）'}));
      return;
    }
    const media = document.createElement(source.video ? 'video' : 'audio');
    media.preload = 'metadata';
    media.className = source.video ? 'video' : 'audio';
    media.src = `/api/v1/materials/${material.id}/content?variant=${source.variant}`;
    this.media = media;
    if (source.video) {
      this.container.before(media);
    } else {
      media.hidden = true;
      this.container.after(media);
    }
    media.addEventListener('play', () => this.emitState());
    media.addEventListener('pause', () => this.emitState());
    media.addEventListener('ratechange', () => this.emitState());
    media.addEventListener('timeupdate', () => this.emitTime());
    media.addEventListener('seeked', () => this.emitTime());
    media.addEventListener('loadedmetadata', () => {
      if (Number.isFinite(media.duration)) this.duration = media.duration;
      this.emitTime();
    });
    media.addEventListener('error', () => {
      this.dispatchEvent(new CustomEvent('unavailable', {detail: '音频无法播放：网络中断或格式不受支持，请刷新重试'}));
    });
    const variants = new Set(material.variants || []);
    const data = variants.has('waveform') ? await (prefetched || this.prefetch(material.id)) : null;
    if (!data) {
      this.dispatchEvent(new CustomEvent('nowaveform'));
      return;
    }
    const peaks = data.peaks || [];
    const top = new Float32Array(peaks.length);
    const bottom = new Float32Array(peaks.length);
    for (let i = 0; i < peaks.length; i += 1) {
      bottom[i] = peaks[i][0];
      top[i] = peaks[i][1];
    }
    if (data.duration) this.duration = data.duration;
    this.wavesurfer = WaveSurfer.create({
      container: this.container, media, url: media.src, peaks: [top, bottom], duration: this.duration,
      height: 64, waveColor: '#8c949c', progressColor: '#8a2b1f', cursorColor: '#0b5cad', cursorWidth: 2,
      normalize: true, interact: true, dragToSeek: false, autoScroll: true, autoCenter: true, cspNonce: this.nonce,
    });
    this.wavesurfer.once('redrawcomplete', () => {
      performance.mark('liufang:waveform-drawn');
      this.dispatchEvent(new CustomEvent('drawn'));
    });
    this.wavesurfer.on('timeupdate', () => this.emitTime());
    this.wavesurfer.on('interaction', () => {
      this.resumeFrom = null;
    });
  }

  get playing() {
    return Boolean(this.media && !this.media.paused);
  }

  get currentTime() {
    return this.media ? this.media.currentTime : 0;
  }

  emitState() {
    this.dispatchEvent(new CustomEvent('state'));
  }

  emitTime() {
    this.dispatchEvent(new CustomEvent('time', {detail: this.currentTime}));
  }

  async play() {
    if (!this.media) return;
    if (this.resumeFrom !== null) {
      this.media.currentTime = this.resumeFrom;
      this.resumeFrom = null;
    }
    try {
      await this.media.play();
    } catch (error) {
      if (error && error.name === 'AbortError') return;
      this.dispatchEvent(new CustomEvent('unavailable', {detail: '浏览器未允许播放，请点击“播放/暂停”按钮'}));
    }
  }

  /** Pause; the next play starts RESUME_REWIND_SECONDS earlier than here. */
  pause() {
    if (!this.playing) return false;
    this.media.pause();
    this.resumeFrom = Math.max(0, this.media.currentTime - RESUME_REWIND_SECONDS);
    return true;
  }

  toggle() {
    if (this.playing) this.pause();
    else this.play();
  }

  seek(seconds) {
    if (!this.media) return;
    const limit = this.duration || this.media.duration || seconds;
    this.media.currentTime = Math.min(Math.max(0, seconds), Number.isFinite(limit) ? limit : seconds);
    this.resumeFrom = null;
    this.emitTime();
  }

  skip(delta) {
    const from = this.resumeFrom !== null && !this.playing ? this.resumeFrom + RESUME_REWIND_SECONDS : this.currentTime;
    this.seek(from + delta);
  }

  get rate() {
    return this.media ? this.media.playbackRate : 1;
  }

  setRate(rate) {
    const clamped = Math.min(2, Math.max(0.5, Number(rate) || 1));
    if (this.media) {
      this.media.playbackRate = clamped;
      this.media.defaultPlaybackRate = clamped;
    }
    this.emitState();
    return clamped;
  }

  stepRate(direction) {
    const index = SPEEDS.findIndex((speed) => Math.abs(speed - this.rate) < 0.01);
    const next = SPEEDS[Math.min(SPEEDS.length - 1, Math.max(0, (index < 0 ? 2 : index) + direction))];
    return this.setRate(next);
  }
}
