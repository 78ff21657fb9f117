import '@xterm/xterm/css/xterm.css';
import './styles.css';
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, Session, setSession } from './api';
import { Layout } from './components/layout';
import { Loading } from './components/ui';
import { AdminPage } from './pages/admin';
import { BuildsPage } from './pages/builds';
import { ContainerPage } from './pages/container';
import { ContainersPage } from './pages/containers';
import { HostsPage } from './pages/hosts';
import { ImagesPage } from './pages/images';
import { OverviewPage } from './pages/overview';
import { ServicePage, ServicesPage } from './pages/services';
import { SignIn } from './pages/sign-in';
import { useRoute } from './router';

function App() {
  const [session, setCurrent] = useState<Session | null | undefined>(undefined);
  const [expired, setExpired] = useState(false);
  const route = useRoute();
  const signedOut = () => {
    setSession(null, () => undefined);
    setCurrent((previous) => {
      if (previous) setExpired(true);
      return null;
    });
  };
  const signedIn = (next: Session) => {
    setSession(next, signedOut);
    setExpired(false);
    setCurrent(next);
  };
  useEffect(() => {
    api<Session>('/v1/auth/session').then(signedIn, (error) => {
      if (!(error instanceof ApiError && error.status === 401)) console.error(error);
      setCurrent(null);
    });
  }, []);
  if (session === undefined) return <Loading what="your session" />;
  if (session === null) return <SignIn onSignedIn={signedIn} expired={expired} />;
  const signOut = async () => {
    try {
      await api('/v1/auth/session', { method: 'DELETE' });
    } finally {
      setSession(null, () => undefined);
      setExpired(false);
      setCurrent(null);
    }
  };
  const [page, ...rest] = route;
  return (
    <Layout session={session} page={page} onSignOut={signOut}>
      {page === 'containers' && rest[0] ? (
        <ContainerPage key={rest[0]} session={session} reference={rest[0]} />
      ) : page === 'containers' ? (
        <ContainersPage session={session} />
      ) : page === 'images' ? (
        <ImagesPage session={session} />
      ) : page === 'services' && rest[0] ? (
        <ServicePage key={rest[0]} session={session} reference={rest[0]} />
      ) : page === 'services' ? (
        <ServicesPage session={session} />
      ) : page === 'builds' ? (
        <BuildsPage session={session} />
      ) : page === 'hosts' ? (
        <HostsPage session={session} />
      ) : page === 'admin' && session.user.role === 'admin' ? (
        <AdminPage session={session} />
      ) : (
        <OverviewPage session={session} />
      )}
    </Layout>
  );
}

render(<App />, document.getElementById('app')!);
