// Entry point of the wallet admin console. Everything it loads is bundled by
// Vite and served by the Go process, so it works without internet access.
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import './style.css';
import App from './App.jsx';

createRoot(document.getElementById('root')).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
