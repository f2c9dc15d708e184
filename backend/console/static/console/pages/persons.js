// A page shell still being built: it shows who is signed in (and sends anyone else to the login page).

import {startPage} from '../layout.js';

startPage();
