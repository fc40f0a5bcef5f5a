'use strict';
// Matches a request path against route templates such as /api/notes/:id.
// The template, not the raw path, is what metrics and logs use as "route".

function compile(template) {
  const segments = template.split('/').slice(1);
  return (path) => {
    const parts = path.split('/').slice(1);
    if (parts.length !== segments.length) return null;
    const params = {};
    for (let i = 0; i < segments.length; i += 1) {
      if (segments[i].startsWith(':')) {
        if (parts[i] === '') return null;
        try {
          params[segments[i].slice(1)] = decodeURIComponent(parts[i]);
        } catch {
          return null;
        }
      } else if (segments[i] !== parts[i]) {
        return null;
      }
    }
    return params;
  };
}

function createRouter() {
  const routes = [];

  function add(method, template, handler) {
    let route = routes.find((r) => r.template === template);
    if (!route) {
      route = { template, match: compile(template), handlers: new Map() };
      routes.push(route);
    }
    route.handlers.set(method, handler);
  }

  // Returns {route, params, handler} on a match, {route, allowed} when the path
  // matches but the method does not (405), or {route: null} when nothing does.
  function match(method, path) {
    for (const route of routes) {
      const params = route.match(path);
      if (!params) continue;
      const handler = route.handlers.get(method) ?? (method === 'HEAD' ? route.handlers.get('GET') : undefined);
      if (handler) return { route: route.template, params, handler };
      return { route: route.template, allowed: [...route.handlers.keys()] };
    }
    return { route: null };
  }

  return {
    get: (template, handler) => add('GET', template, handler),
    post: (template, handler) => add('POST', template, handler),
    delete: (template, handler) => add('DELETE', template, handler),
    match,
  };
}

module.exports = { createRouter };
