import { Component, type ComponentChildren, render } from 'preact';
import { App } from './App.tsx';
import './styles.css';

/** A fault in one render must not wedge the page: say so, and offer the default view (the URL may hold the cause). */
class ErrorBoundary extends Component<{ children: ComponentChildren }, { error?: string }> {
  state: { error?: string } = {};
  componentDidCatch(error: unknown) {
    this.setState({ error: String((error as Error)?.message ?? error) });
  }
  render() {
    if (!this.state.error) return this.props.children;
    return (
      <div class="empty" role="alert">
        <b>The console hit an error.</b>
        <p class="muted">{this.state.error}</p>
        <a class="btn" href={location.pathname}>
          Start over with the default view
        </a>
      </div>
    );
  }
}

render(
  <ErrorBoundary>
    <App />
  </ErrorBoundary>,
  document.getElementById('app') as HTMLElement,
);
